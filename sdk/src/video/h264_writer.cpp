#include "video/h264_writer.hpp"

#include <cstring>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libavutil/rational.h>
}

#include "maskdetect/error.hpp"

namespace maskdetect::video::detail {

namespace {

std::string av_error(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof(text));
  return text;
}

const AVCodec* x264() { return avcodec_find_encoder_by_name("libx264"); }

}  // namespace

bool h264_available() { return x264() != nullptr; }

struct H264Writer::State {
  AVFormatContext* format = nullptr;
  AVCodecContext* codec = nullptr;
  AVStream* stream = nullptr;
  AVFrame* frame = nullptr;
  AVPacket* packet = nullptr;
  cv::Mat yuv;  // I420, converted by OpenCV (faster than swscale's bicubic path that OpenCV's own writer takes)
  std::int64_t next_pts = 0;
  bool header_written = false;
  bool closed = false;

  ~State() {
    av_packet_free(&packet);
    av_frame_free(&frame);
    avcodec_free_context(&codec);
    if (format != nullptr) {
      if (format->pb != nullptr) avio_closep(&format->pb);
      avformat_free_context(format);
    }
  }
};

H264Writer::H264Writer(const std::filesystem::path& path, cv::Size size, double fps, const std::string& preset, int crf,
                       int threads)
    : path_(path), size_(size.width & ~1, size.height & ~1), state_(std::make_unique<State>()) {
  const auto fail = [this](const std::string& what) {
    return Error(Errc::io, fmt::format("cannot write video '{}': {}", path_.string(), what));
  };
  if (size_.width <= 0 || size_.height <= 0)
    throw fail(fmt::format("frame size {}x{} is too small", size.width, size.height));
  const AVCodec* codec = x264();
  if (codec == nullptr) throw fail("this FFmpeg build has no libx264 encoder");
  av_log_set_level(AV_LOG_ERROR);

  State& s = *state_;
  int err = avformat_alloc_output_context2(&s.format, nullptr, "mp4", path_.c_str());
  if (err < 0 || s.format == nullptr) throw fail(av_error(err));
  s.stream = avformat_new_stream(s.format, nullptr);
  s.codec = avcodec_alloc_context3(codec);
  s.frame = av_frame_alloc();
  s.packet = av_packet_alloc();
  if (s.stream == nullptr || s.codec == nullptr || s.frame == nullptr || s.packet == nullptr)
    throw fail("out of memory");

  const AVRational rate = av_d2q(fps > 0.0 ? fps : 25.0, 100000);
  s.codec->width = size_.width;
  s.codec->height = size_.height;
  s.codec->pix_fmt = AV_PIX_FMT_YUV420P;
  s.codec->time_base = av_inv_q(rate);
  s.codec->framerate = rate;
  s.codec->thread_count = threads;
  // OpenCV's BGR -> I420 is BT.601 with limited range: say so, so that players do not guess BT.709 for HD sizes.
  s.codec->color_range = AVCOL_RANGE_MPEG;
  s.codec->colorspace = AVCOL_SPC_SMPTE170M;
  s.codec->color_primaries = AVCOL_PRI_SMPTE170M;
  s.codec->color_trc = AVCOL_TRC_SMPTE170M;
  if ((s.format->oformat->flags & AVFMT_GLOBALHEADER) != 0) s.codec->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  AVDictionary* options = nullptr;
  av_dict_set(&options, "preset", preset.c_str(), 0);
  av_dict_set(&options, "crf", std::to_string(crf).c_str(), 0);
  err = avcodec_open2(s.codec, codec, &options);
  // An option x264 did not take (a misspelt preset) is left in the dictionary.
  const AVDictionaryEntry* unused = av_dict_get(options, "", nullptr, AV_DICT_IGNORE_SUFFIX);
  const std::string unused_key = unused != nullptr ? unused->key : "";
  av_dict_free(&options);
  if (err < 0) throw fail(fmt::format("cannot open the H.264 encoder (preset '{}'): {}", preset, av_error(err)));
  if (!unused_key.empty()) throw fail(fmt::format("the H.264 encoder does not take the option '{}'", unused_key));

  err = avcodec_parameters_from_context(s.stream->codecpar, s.codec);
  if (err < 0) throw fail(av_error(err));
  s.stream->time_base = s.codec->time_base;
  s.stream->avg_frame_rate = rate;

  s.frame->format = AV_PIX_FMT_YUV420P;
  s.frame->width = size_.width;
  s.frame->height = size_.height;
  err = av_frame_get_buffer(s.frame, 0);
  if (err < 0) throw fail(av_error(err));

  err = avio_open(&s.format->pb, path_.c_str(), AVIO_FLAG_WRITE);
  if (err < 0) throw fail(av_error(err));
  err = avformat_write_header(s.format, nullptr);
  if (err < 0) throw fail(av_error(err));
  s.header_written = true;
}

H264Writer::~H264Writer() {
  try {
    close();
  } catch (const Error&) {  // NOLINT(bugprone-empty-catch): a destructor cannot report; close() does
  }
}

namespace {

/// Sends `frame` (nullptr: flush) and writes every packet the encoder has ready. Returns an FFmpeg error or 0.
int encode(AVFormatContext* format, AVCodecContext* codec, AVStream* stream, AVPacket* packet, const AVFrame* frame) {
  int err = avcodec_send_frame(codec, frame);
  if (err < 0) return err;
  for (;;) {
    err = avcodec_receive_packet(codec, packet);
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return 0;
    if (err < 0) return err;
    av_packet_rescale_ts(packet, codec->time_base, stream->time_base);
    packet->stream_index = stream->index;
    err = av_interleaved_write_frame(format, packet);  // takes the packet's data; `packet` is blank again
    if (err < 0) return err;
    // A full disk shows as the I/O context's error before any call returns one.
    if (format->pb != nullptr && format->pb->error < 0) return format->pb->error;
  }
}

}  // namespace

void H264Writer::write(const cv::Mat& bgr) {
  State& s = *state_;
  if (s.closed) throw Error(Errc::io, fmt::format("cannot write video '{}': already closed", path_.string()));
  const cv::Mat even = bgr.cols == size_.width && bgr.rows == size_.height ? bgr : bgr(cv::Rect({0, 0}, size_));
  cv::cvtColor(even, s.yuv, cv::COLOR_BGR2YUV_I420);
  int err = av_frame_make_writable(s.frame);  // the encoder may still hold the previous buffer
  if (err < 0) throw Error(Errc::io, fmt::format("cannot write video '{}': {}", path_.string(), av_error(err)));
  const int w = size_.width;
  const int h = size_.height;
  const uchar* y = s.yuv.data;
  const uchar* u = y + static_cast<std::ptrdiff_t>(w) * h;
  const uchar* v = u + static_cast<std::ptrdiff_t>(w / 2) * (h / 2);
  for (int row = 0; row < h; ++row)
    std::memcpy(s.frame->data[0] + static_cast<std::ptrdiff_t>(row) * s.frame->linesize[0],
                y + static_cast<std::ptrdiff_t>(row) * w, static_cast<std::size_t>(w));
  for (int row = 0; row < h / 2; ++row) {
    std::memcpy(s.frame->data[1] + static_cast<std::ptrdiff_t>(row) * s.frame->linesize[1],
                u + static_cast<std::ptrdiff_t>(row) * (w / 2), static_cast<std::size_t>(w / 2));
    std::memcpy(s.frame->data[2] + static_cast<std::ptrdiff_t>(row) * s.frame->linesize[2],
                v + static_cast<std::ptrdiff_t>(row) * (w / 2), static_cast<std::size_t>(w / 2));
  }
  s.frame->pts = s.next_pts++;
  err = encode(s.format, s.codec, s.stream, s.packet, s.frame);
  if (err < 0) throw Error(Errc::io, fmt::format("cannot write video '{}': {}", path_.string(), av_error(err)));
}

void H264Writer::close() {
  State& s = *state_;
  if (s.closed) return;
  s.closed = true;
  if (!s.header_written) return;
  int err = encode(s.format, s.codec, s.stream, s.packet, nullptr);
  if (err >= 0) err = av_write_trailer(s.format);
  if (err >= 0 && s.format->pb != nullptr) {
    avio_flush(s.format->pb);
    if (s.format->pb->error < 0) err = s.format->pb->error;
    const int closed = avio_closep(&s.format->pb);
    if (err >= 0) err = closed;
  }
  if (err < 0) throw Error(Errc::io, fmt::format("cannot write video '{}': {}", path_.string(), av_error(err)));
}

}  // namespace maskdetect::video::detail
