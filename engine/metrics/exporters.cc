#include "engine/metrics/exporters.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace rackboot::metrics {
namespace {

// HELP text: backslash and newline escaped (format 0.0.4).
void AppendHelp(std::string* out, absl::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
}

// A label value: backslash, double quote and newline escaped.
void AppendLabelValue(std::string* out, absl::string_view value) {
  for (char c : value) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '"') {
      out->append("\\\"");
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
}

// {a="x",b="y"} plus an optional extra label (le), or nothing without labels.
void AppendLabels(std::string* out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values,
                  absl::string_view extra_name = {},
                  absl::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out->push_back('{');
  bool first = true;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!first) out->push_back(',');
    first = false;
    absl::StrAppend(out, names[i], "=\"");
    AppendLabelValue(out, values[i]);
    out->push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) out->push_back(',');
    absl::StrAppend(out, extra_name, "=\"");
    AppendLabelValue(out, extra_value);
    out->push_back('"');
  }
  out->push_back('}');
}

}  // namespace

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.17g", v);
  // Shortest form that reads back exactly.
  for (int precision = 1; precision <= 17; ++precision) {
    char shorter[32];
    std::snprintf(shorter, sizeof(shorter), "%.*g", precision, v);
    if (std::strtod(shorter, nullptr) == v) return shorter;
  }
  return buffer;
}

std::string PrometheusText(const std::vector<FamilySnapshot>& families) {
  std::string out;
  out.reserve(4096);
  for (const FamilySnapshot& f : families) {
    absl::StrAppend(&out, "# HELP ", f.name, " ");
    AppendHelp(&out, f.help);
    absl::StrAppend(&out, "\n# TYPE ", f.name, " ", MetricTypeName(f.type),
                    "\n");
    for (const SeriesSnapshot& s : f.series) {
      if (f.type != MetricType::kHistogram) {
        out.append(f.name);
        AppendLabels(&out, f.label_names, s.label_values);
        absl::StrAppend(&out, " ", FormatValue(s.value), "\n");
        continue;
      }
      for (size_t i = 0; i < s.buckets.size(); ++i) {
        absl::StrAppend(&out, f.name, "_bucket");
        AppendLabels(&out, f.label_names, s.label_values, "le",
                     i < f.bounds.size() ? FormatValue(f.bounds[i]) : "+Inf");
        absl::StrAppend(&out, " ", s.buckets[i], "\n");
      }
      absl::StrAppend(&out, f.name, "_sum");
      AppendLabels(&out, f.label_names, s.label_values);
      absl::StrAppend(&out, " ", FormatValue(s.sum), "\n");
      absl::StrAppend(&out, f.name, "_count");
      AppendLabels(&out, f.label_names, s.label_values);
      absl::StrAppend(&out, " ", s.count, "\n");
    }
  }
  return out;
}

std::string PrometheusText(const MetricsRegistry& registry) {
  return PrometheusText(registry.Collect());
}

nlohmann::json MetricsJson(const std::vector<FamilySnapshot>& families) {
  nlohmann::json metrics = nlohmann::json::object();
  for (const FamilySnapshot& f : families) {
    nlohmann::json family = {{"type", MetricTypeName(f.type)},
                             {"help", f.help},
                             {"labels", f.label_names}};
    nlohmann::json samples = nlohmann::json::array();
    for (const SeriesSnapshot& s : f.series) {
      nlohmann::json labels = nlohmann::json::object();
      for (size_t i = 0; i < f.label_names.size() && i < s.label_values.size();
           ++i) {
        labels[f.label_names[i]] = s.label_values[i];
      }
      nlohmann::json sample = {{"labels", std::move(labels)}};
      if (f.type == MetricType::kHistogram) {
        nlohmann::json buckets = nlohmann::json::array();
        for (size_t i = 0; i < s.buckets.size(); ++i) {
          buckets.push_back(
              {{"le", i < f.bounds.size() ? FormatValue(f.bounds[i]) : "+Inf"},
               {"count", s.buckets[i]}});
        }
        sample["count"] = s.count;
        sample["sum"] = std::isfinite(s.sum) ? s.sum : 0.0;
        sample["buckets"] = std::move(buckets);
      } else {
        sample["value"] = std::isfinite(s.value) ? s.value : 0.0;
      }
      samples.push_back(std::move(sample));
    }
    family["samples"] = std::move(samples);
    metrics[f.name] = std::move(family);
  }
  return {{"metrics", std::move(metrics)}};
}

nlohmann::json MetricsJson(const MetricsRegistry& registry) {
  return MetricsJson(registry.Collect());
}

}  // namespace rackboot::metrics
