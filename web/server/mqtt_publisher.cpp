// mqtt_publisher.cpp - libmosquitto client; see mqtt_publisher.hpp.
#include "mqtt_publisher.hpp"

#include <mosquitto.h>

#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "maskdetect/error.hpp"
#include "maskdetect/version.hpp"
#include "state.hpp"

namespace maskdetect::server {

namespace {

void init_library() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

}  // namespace

struct MqttPublisher::Impl {
  MqttConfig config;
  std::vector<std::string> cameras;
  mosquitto* client = nullptr;
  std::atomic<bool> connected{false};
  std::atomic<std::int64_t> connections{0};
  std::atomic<bool> logged_down{false};

  [[nodiscard]] std::string status_topic() const {
    return config.status_topic.empty() ? config.topic_prefix + "/status" : config.status_topic;
  }

  void publish(const std::string& topic, const std::string& payload, bool retain) const {
    mosquitto_publish(client, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1, retain);
  }

  void discovery() const {
    const nlohmann::json device = {{"identifiers", {"maskdetect_" + config.client_id}},
                                   {"name", "maskdetect"},
                                   {"sw_version", kVersion},
                                   {"manufacturer", "maskdetect"}};
    struct Sensor {
      const char* key;
      const char* name;
      const char* unit;
      const char* value_template;
    };
    static constexpr Sensor kSensors[] = {
        {"compliance", "compliance", "%",
         "{{ (value_json.compliance * 100) | round(1) if value_json.compliance is not none else 'unknown' }}"},
        {"fps", "fps", "fps", "{{ value_json.fps | round(1) }}"},
        {"no_mask", "people without mask", "", "{{ value_json.people.no_mask }}"},
        {"in_view", "people in view", "", "{{ value_json.in_view }}"},
        {"events", "events", "", "{{ value_json.events }}"},
    };
    for (const std::string& camera : cameras) {
      for (const Sensor& s : kSensors) {
        const std::string id = fmt::format("maskdetect_{}_{}", camera, s.key);
        nlohmann::json doc = {{"name", fmt::format("{} {}", camera, s.name)},
                              {"unique_id", id},
                              {"object_id", id},
                              {"state_topic", fmt::format("{}/{}/stats", config.topic_prefix, camera)},
                              {"value_template", s.value_template},
                              {"availability_topic", status_topic()},
                              {"device", device}};
        if (*s.unit != '\0') doc["unit_of_measurement"] = s.unit;
        publish(fmt::format("{}/sensor/{}/config", config.discovery_prefix, id), doc.dump(), true);
      }
    }
  }

  static void on_connect(mosquitto*, void* user, int rc) {
    auto* self = static_cast<Impl*>(user);
    if (rc != 0) return;
    self->connected = true;
    ++self->connections;
    if (self->logged_down.exchange(false))
      detail::log_line(fmt::format("mqtt: connected again to {}:{}", self->config.host, self->config.port));
    self->publish(self->status_topic(), "online", true);
    if (self->config.home_assistant) self->discovery();
  }

  static void on_disconnect(mosquitto*, void* user, int rc) {
    auto* self = static_cast<Impl*>(user);
    self->connected = false;
    if (rc != 0 && !self->logged_down.exchange(true))
      detail::log_line(fmt::format("mqtt: connection to {}:{} lost; reconnecting with backoff", self->config.host,
                                   self->config.port));
  }
};

MqttPublisher::MqttPublisher(MqttConfig config, std::vector<std::string> cameras) : impl_(std::make_unique<Impl>()) {
  init_library();
  impl_->config = std::move(config);
  impl_->cameras = std::move(cameras);
  const MqttConfig& c = impl_->config;
  impl_->client = mosquitto_new(c.client_id.c_str(), true, impl_.get());
  if (impl_->client == nullptr) throw Error(Errc::internal, "mqtt: cannot create a client");
  mosquitto_int_option(impl_->client, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  const std::string will = impl_->status_topic();
  mosquitto_will_set(impl_->client, will.c_str(), 7, "offline", 1, true);
  if (!c.username.empty())
    mosquitto_username_pw_set(impl_->client, c.username.c_str(), c.password.empty() ? nullptr : c.password.c_str());
  mosquitto_reconnect_delay_set(impl_->client, static_cast<unsigned>(std::max(1.0, c.reconnect_min_s)),
                                static_cast<unsigned>(std::max(1.0, c.reconnect_max_s)), true);
  mosquitto_connect_callback_set(impl_->client, &Impl::on_connect);
  mosquitto_disconnect_callback_set(impl_->client, &Impl::on_disconnect);
  // A broker that is down now is retried by the network thread, with the backoff above.
  const int rc = mosquitto_connect_async(impl_->client, c.host.c_str(), c.port, c.keepalive_s);
  if (rc != MOSQ_ERR_SUCCESS) {
    impl_->logged_down = true;
    detail::log_line(fmt::format("mqtt: cannot connect to {}:{} yet ({}); retrying with backoff", c.host, c.port,
                                 mosquitto_strerror(rc)));
  }
  if (mosquitto_loop_start(impl_->client) != MOSQ_ERR_SUCCESS) {
    mosquitto_destroy(impl_->client);
    throw Error(Errc::internal, "mqtt: cannot start the network thread");
  }
}

MqttPublisher::~MqttPublisher() {
  if (impl_->connected) {
    int mid = 0;
    const std::string topic = impl_->status_topic();
    mosquitto_publish(impl_->client, &mid, topic.c_str(), 7, "offline", 1, true);
    mosquitto_disconnect(impl_->client);
  } else {
    mosquitto_disconnect(impl_->client);
  }
  mosquitto_loop_stop(impl_->client, true);
  mosquitto_destroy(impl_->client);
}

void MqttPublisher::publish_event(const std::string& camera, const std::string& json) {
  impl_->publish(fmt::format("{}/{}/event", impl_->config.topic_prefix, camera), json, false);
}

void MqttPublisher::publish_stats(const std::string& camera, const std::string& json) {
  impl_->publish(fmt::format("{}/{}/stats", impl_->config.topic_prefix, camera), json, true);
}

bool MqttPublisher::connected() const noexcept { return impl_->connected; }
std::int64_t MqttPublisher::connections() const noexcept { return impl_->connections; }
std::string MqttPublisher::status_topic() const { return impl_->status_topic(); }

}  // namespace maskdetect::server
