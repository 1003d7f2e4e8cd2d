// mqtt_publisher.cpp - libmosquitto client with a bounded queue of its own; see mqtt_publisher.hpp.
#include "mqtt_publisher.hpp"

#include <mosquitto.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "maskdetect/error.hpp"
#include "maskdetect/version.hpp"
#include "state.hpp"

namespace maskdetect::server {

namespace {

using Clock = std::chrono::steady_clock;

void init_library() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

/// How long the destructor waits for the last messages, then for the acknowledgement of "offline", then for the
/// DISCONNECT to be written.
constexpr auto kFlushTimeout = std::chrono::milliseconds(1000);
constexpr auto kOfflineTimeout = std::chrono::milliseconds(2000);
constexpr auto kDisconnectTimeout = std::chrono::milliseconds(1000);

enum class Kind { event, stats, control };

struct Message {
  std::string topic;
  std::string payload;
  bool retain = false;
  Kind kind = Kind::control;
};

}  // namespace

struct MqttPublisher::Impl {
  MqttConfig config;
  std::vector<std::string> cameras;
  mosquitto* client = nullptr;

  mutable std::mutex mutex;
  std::condition_variable changed;
  bool connected = false;
  bool announce = false;  ///< just connected: "online" and discovery go first
  bool stopping = false;
  Clock::time_point flush_deadline;      ///< while stopping
  std::deque<Message> events;            ///< waiting for the connection or for room in flight
  std::map<std::string, Message> stats;  ///< per camera: the latest not yet sent
  std::map<int, Kind> in_flight;         ///< mid -> kind: sent, not acknowledged
  std::map<int, Kind> before_reconnect;  ///< in flight when the connection dropped (libmosquitto resends)
  std::set<int> early_acks;              ///< acknowledged before mosquitto_publish returned its mid
  bool disconnected_cleanly = false;
  bool logged_drop = false;  ///< events dropped in this outage: logged once
  Counters counters;
  std::atomic<bool> connected_flag{false};
  std::atomic<std::int64_t> connections{0};
  std::atomic<bool> logged_down{false};

  std::mutex callback_mutex;  ///< held while on_connect runs
  std::function<void()> on_connect;
  std::thread pump_thread;

  [[nodiscard]] std::string status_topic() const {
    return config.status_topic.empty() ? config.topic_prefix + "/status" : config.status_topic;
  }

  /// Hands one message to libmosquitto (not under `mutex`); returns its mid, or -1 when refused.
  int send(const Message& m) const {
    int mid = 0;
    const int rc = mosquitto_publish(client, &mid, m.topic.c_str(), static_cast<int>(m.payload.size()),
                                     m.payload.data(), 1, m.retain);
    if (rc != MOSQ_ERR_SUCCESS) {
      detail::log_line(fmt::format("mqtt: a message to {} was not sent: {}", m.topic, mosquitto_strerror(rc)));
      return -1;
    }
    return mid;
  }

  /// After send(): the message is in flight, unless its acknowledgement already came. Under `mutex`.
  void sent(int mid, Kind kind) {
    if (mid < 0) {
      if (kind == Kind::event) ++counters.events_dropped;
      if (kind == Kind::stats) ++counters.stats_dropped;
      return;
    }
    if (early_acks.erase(mid) > 0) {
      acknowledged(kind);
      return;
    }
    in_flight[mid] = kind;
  }

  void acknowledged(Kind kind) {
    if (kind == Kind::event) ++counters.events_published;
    if (kind == Kind::stats) ++counters.stats_published;
  }

  [[nodiscard]] std::vector<Message> announcement() const {
    std::vector<Message> out{Message{status_topic(), "online", true, Kind::control}};
    if (!config.home_assistant) return out;
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
        out.push_back(
            Message{fmt::format("{}/sensor/{}/config", config.discovery_prefix, id), doc.dump(), true, Kind::control});
      }
    }
    return out;
  }

  /// The publisher's thread: hands queued messages to libmosquitto while connected, at most kMaxInFlight
  /// unacknowledged. When stopping, sends what it can until flush_deadline.
  void pump() {
    std::unique_lock lock(mutex);
    auto ready = [this] {
      return connected && (announce || (in_flight.size() < kMaxInFlight && (!events.empty() || !stats.empty())));
    };
    for (;;) {
      if (stopping) {
        if (!changed.wait_until(lock, flush_deadline,
                                [&] { return ready() || !connected || (events.empty() && stats.empty()); }) ||
            !ready())
          return;
      } else {
        changed.wait(lock, [&] { return stopping || ready(); });
        if (stopping) continue;
      }
      if (announce) {
        announce = false;
        const std::vector<Message> messages = announcement();
        const std::size_t queued = events.size();
        lock.unlock();
        if (logged_down.exchange(false))
          detail::log_line(fmt::format("mqtt: connected again to {}:{}{}", config.host, config.port,
                                       queued > 0 ? fmt::format("; sending {} queued event(s)", queued) : ""));
        std::vector<int> mids;
        mids.reserve(messages.size());
        for (const Message& m : messages) mids.push_back(send(m));
        {
          const std::lock_guard callback(callback_mutex);
          if (on_connect) on_connect();
        }
        lock.lock();
        for (const int mid : mids) sent(mid, Kind::control);
        continue;
      }
      Message m;
      if (!events.empty()) {
        m = std::move(events.front());
        events.pop_front();
      } else {
        auto it = stats.begin();
        m = std::move(it->second);
        stats.erase(it);
      }
      lock.unlock();
      const int mid = send(m);
      lock.lock();
      sent(mid, m.kind);
    }
  }

  static void on_connect_cb(mosquitto*, void* user, int rc) {
    auto* self = static_cast<Impl*>(user);
    if (rc != 0) return;
    {
      const std::lock_guard lock(self->mutex);
      self->connected = true;
      self->announce = true;
      self->logged_drop = false;
      ++self->counters.connections;
      // Unacknowledged messages of the last connection: libmosquitto sends them again; their acknowledgements
      // are counted, but they no longer hold room in flight. Those older than that are forgotten.
      self->before_reconnect = std::move(self->in_flight);
      self->in_flight.clear();
      self->early_acks.clear();
    }
    self->connected_flag = true;
    ++self->connections;
    self->changed.notify_all();
  }

  static void on_disconnect_cb(mosquitto*, void* user, int rc) {
    auto* self = static_cast<Impl*>(user);
    {
      const std::lock_guard lock(self->mutex);
      self->connected = false;
      if (rc == 0) self->disconnected_cleanly = true;
    }
    self->connected_flag = false;
    self->changed.notify_all();
    if (rc != 0 && !self->logged_down.exchange(true))
      detail::log_line(fmt::format("mqtt: connection to {}:{} lost; reconnecting with backoff", self->config.host,
                                   self->config.port));
  }

  static void on_publish_cb(mosquitto*, void* user, int mid) {
    auto* self = static_cast<Impl*>(user);
    {
      const std::lock_guard lock(self->mutex);
      if (const auto it = self->in_flight.find(mid); it != self->in_flight.end()) {
        self->acknowledged(it->second);
        self->in_flight.erase(it);
      } else if (const auto old = self->before_reconnect.find(mid); old != self->before_reconnect.end()) {
        self->acknowledged(old->second);
        self->before_reconnect.erase(old);
      } else {
        self->early_acks.insert(mid);
      }
    }
    self->changed.notify_all();
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
  mosquitto_connect_callback_set(impl_->client, &Impl::on_connect_cb);
  mosquitto_disconnect_callback_set(impl_->client, &Impl::on_disconnect_cb);
  mosquitto_publish_callback_set(impl_->client, &Impl::on_publish_cb);
  impl_->pump_thread = std::thread([impl = impl_.get()] { impl->pump(); });
  // A broker that is down now is retried by the network thread, with the backoff above.
  const int rc = mosquitto_connect_async(impl_->client, c.host.c_str(), c.port, c.keepalive_s);
  if (rc != MOSQ_ERR_SUCCESS) {
    impl_->logged_down = true;
    detail::log_line(fmt::format("mqtt: cannot connect to {}:{} yet ({}); retrying with backoff", c.host, c.port,
                                 mosquitto_strerror(rc)));
  }
  if (mosquitto_loop_start(impl_->client) != MOSQ_ERR_SUCCESS) {
    {
      const std::lock_guard lock(impl_->mutex);
      impl_->stopping = true;
      impl_->flush_deadline = Clock::now();
    }
    impl_->changed.notify_all();
    impl_->pump_thread.join();
    mosquitto_destroy(impl_->client);
    throw Error(Errc::internal, "mqtt: cannot start the network thread");
  }
}

MqttPublisher::~MqttPublisher() {
  Impl& s = *impl_;
  {
    const std::lock_guard lock(s.mutex);
    s.stopping = true;
    s.flush_deadline = Clock::now() + kFlushTimeout;  // what is queued goes out first, if it can
  }
  s.changed.notify_all();
  if (s.pump_thread.joinable()) s.pump_thread.join();
  bool clean = false;
  std::unique_lock lock(s.mutex);
  if (s.connected) {
    // "offline" once, acknowledged, then a DISCONNECT: the broker drops the will instead of sending it too.
    lock.unlock();
    const int mid = s.send(Message{s.status_topic(), "offline", true, Kind::control});
    lock.lock();
    if (mid >= 0) {
      s.sent(mid, Kind::control);
      s.changed.wait_for(lock, kOfflineTimeout, [&] { return !s.connected || !s.in_flight.contains(mid); });
    }
    lock.unlock();
    mosquitto_disconnect(s.client);
    lock.lock();
    clean = s.changed.wait_for(lock, kDisconnectTimeout, [&] { return s.disconnected_cleanly; });
  }
  lock.unlock();
  if (!clean) mosquitto_disconnect(s.client);
  // After a clean DISCONNECT the network thread ends by itself; otherwise it may be waiting out a reconnect.
  mosquitto_loop_stop(s.client, !clean);
  mosquitto_destroy(s.client);
}

void MqttPublisher::publish_event(const std::string& camera, const std::string& json) {
  Impl& s = *impl_;
  bool log_drop = false;
  {
    const std::lock_guard lock(s.mutex);
    s.events.push_back(Message{fmt::format("{}/{}/event", s.config.topic_prefix, camera), json, false, Kind::event});
    while (s.events.size() > static_cast<std::size_t>(std::max(1, s.config.max_queued_events))) {
      s.events.pop_front();
      ++s.counters.events_dropped;
      log_drop = !s.logged_drop;
      s.logged_drop = true;
    }
  }
  s.changed.notify_all();
  if (log_drop)
    detail::log_line(fmt::format("mqtt: {} events wait for the broker; older ones are dropped (counted)",
                                 s.config.max_queued_events));
}

void MqttPublisher::publish_stats(const std::string& camera, const std::string& json) {
  Impl& s = *impl_;
  {
    const std::lock_guard lock(s.mutex);
    if (!s.connected) {
      ++s.counters.stats_dropped;  // never replayed later: stale by then
      return;
    }
    if (s.stats.contains(camera)) ++s.counters.stats_dropped;  // replaced by this newer one
    s.stats[camera] = Message{fmt::format("{}/{}/stats", s.config.topic_prefix, camera), json, true, Kind::stats};
  }
  s.changed.notify_all();
}

void MqttPublisher::set_on_connect(std::function<void()> callback) {
  const std::lock_guard lock(impl_->callback_mutex);
  impl_->on_connect = std::move(callback);
}

bool MqttPublisher::connected() const noexcept { return impl_->connected_flag; }
std::int64_t MqttPublisher::connections() const noexcept { return impl_->connections; }
std::string MqttPublisher::status_topic() const { return impl_->status_topic(); }

MqttPublisher::Counters MqttPublisher::counters() const {
  const std::lock_guard lock(impl_->mutex);
  Counters c = impl_->counters;
  c.events_queued = impl_->events.size();
  c.in_flight = impl_->in_flight.size() + impl_->before_reconnect.size();
  c.connected = impl_->connected;
  return c;
}

}  // namespace maskdetect::server
