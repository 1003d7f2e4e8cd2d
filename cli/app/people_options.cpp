#include "app/people_options.hpp"

#include <fmt/format.h>

#include "maskdetect/error.hpp"

namespace maskdetect::app {

namespace {
bool given(const CLI::Option* option) { return option != nullptr && option->count() > 0; }
}  // namespace

void add_people_options(CLI::App& app, PeopleOptions& options) {
  app.add_option("--ignore-zone", options.ignore_zones,
                 "Video: faces whose centre is in this polygon never start a person (a TV, a poster, a window). "
                 "Comma-separated x,y pairs of normalised coordinates (0..1, origin top left), at least 3 points, "
                 "e.g. --ignore-zone 0.7,0,1,0,1,0.3,0.7,0.3 (repeatable; config key people.ignore_zones)")
      ->type_name("X,Y,X,Y,X,Y...");
  options.threshold_opt = app.add_option("--person-threshold", options.threshold,
                                         "Video: the median face score a track needs to count as a person "
                                         "(people.threshold; default: auto, per detector)")
                              ->check(CLI::Range(0.0f, 1.0f));
  options.min_score_opt = app.add_option("--person-min-score", options.min_score,
                                         "Video: faces at or above this score may confirm a person; weaker ones "
                                         "only continue one (people.min_score)")
                              ->check(CLI::Range(0.0f, 1.0f));
  options.confirm_s_opt =
      app.add_option("--confirm-s", options.confirm_s,
                     "Video: seconds a face must be seen before it counts as a person (people.confirm_s)")
          ->check(CLI::Range(0.0, 3600.0));
  options.min_face_px_opt =
      app.add_option("--person-min-px", options.min_face_px,
                     "Video: smallest median face size, in pixels (longer side), of a person (people.min_face_px)")
          ->check(CLI::Range(0.0f, 10000.0f));
  options.stationary_s_opt =
      app.add_option("--stationary-s", options.stationary_s,
                     "Video: a face that has not moved for this long is stationary (a painting, a poster); faces that "
                     "never moved do not count (0: rule off; people.stationary_s)")
          ->check(CLI::Range(0.0, 86400.0));
  app.add_flag("--count-stationary", options.count_stationary,
               "Video: count faces that never move (posters, paintings) as people (people.count_stationary)");
  options.state_hold_s_opt =
      app.add_option("--state-hold-s", options.state_hold_s,
                     "Video: seconds a label must lead before a person's state changes (people.state_hold_s)")
          ->check(CLI::Range(0.0, 3600.0));
}

void apply_people_options(const PeopleOptions& options, Config& config) {
  PeopleConfig& p = config.people;
  for (const std::string& text : options.ignore_zones) {
    try {
      p.ignore_zones.push_back(parse_zone(text));
    } catch (const Error& e) {
      throw Error(Errc::invalid_config, fmt::format("--ignore-zone: {}", e.what()));
    }
  }
  if (given(options.threshold_opt)) p.threshold = options.threshold;
  if (given(options.min_score_opt)) p.min_score = options.min_score;
  if (given(options.confirm_s_opt)) p.confirm_s = options.confirm_s;
  if (given(options.min_face_px_opt)) p.min_face_px = options.min_face_px;
  if (given(options.stationary_s_opt)) p.stationary_s = options.stationary_s;
  if (options.count_stationary) p.count_stationary = true;
  if (given(options.state_hold_s_opt)) p.state_hold_s = options.state_hold_s;
  validate(config);
}

}  // namespace maskdetect::app
