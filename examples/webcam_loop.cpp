// webcam_loop: live detection from a camera with boxes drawn in a window. Press q or Esc to stop.
//
//   webcam_loop [camera-index]
#include <iostream>
#include <string>

#include <maskdetect/maskdetect.hpp>
#include <opencv2/highgui.hpp>
#include <opencv2/videoio.hpp>

int main(int argc, char** argv) {
  const int camera = argc > 1 ? std::stoi(argv[1]) : 0;
  try {
    // "webcam": BlazeFace front, the fastest detector, made for faces near the camera.
    maskdetect::Detector detector(maskdetect::preset("webcam"));

    cv::VideoCapture capture(camera);
    if (!capture.isOpened()) {
      std::cerr << "error: cannot open camera " << camera << '\n';
      return 5;
    }
    cv::Mat frame;
    while (capture.read(frame)) {
      const maskdetect::FrameResult result = detector.detect(frame);
      maskdetect::draw_results(frame, result);  // boxes, labels and a count banner
      cv::imshow("maskdetect", frame);
      const int key = cv::waitKey(1);
      if (key == 'q' || key == 27) return 0;
    }
    std::cerr << "error: camera " << camera << " stopped delivering frames\n";
    return 5;
  } catch (const maskdetect::Error& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 3;
  }
}
