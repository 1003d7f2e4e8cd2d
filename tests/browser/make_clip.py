#!/usr/bin/python3
"""Makes the browser test's clips from dataset images: a Y4M (raw I420) for Chromium's fake camera and an
MJPG AVI for a server source. Each image is letterboxed to WxH and held for --hold frames."""
import argparse
import pathlib
import sys

import cv2
import numpy as np


def letterbox(image, width, height):
    scale = min(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas = np.zeros((height, width, 3), np.uint8)
    y = (height - resized.shape[0]) // 2
    x = (width - resized.shape[1]) // 2
    canvas[y:y + resized.shape[0], x:x + resized.shape[1]] = resized
    return canvas


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", required=True, type=pathlib.Path)
    parser.add_argument("--names", nargs="+", required=True)
    parser.add_argument("--y4m", type=pathlib.Path)
    parser.add_argument("--avi", type=pathlib.Path)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--hold", type=int, default=10)
    args = parser.parse_args()

    frames = []
    for name in args.names:
        image = cv2.imread(str(args.images / name), cv2.IMREAD_COLOR)
        if image is None:
            sys.exit(f"make_clip: cannot read {args.images / name}")
        frames.append(letterbox(image, args.width, args.height))

    if args.y4m:
        with open(args.y4m, "wb") as out:
            out.write(f"YUV4MPEG2 W{args.width} H{args.height} F{args.fps}:1 Ip A1:1 C420jpeg\n".encode())
            for frame in frames:
                i420 = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes()
                for _ in range(args.hold):
                    out.write(b"FRAME\n")
                    out.write(i420)
    if args.avi:
        writer = cv2.VideoWriter(str(args.avi), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"), args.fps,
                                 (args.width, args.height))
        if not writer.isOpened():
            sys.exit(f"make_clip: cannot write {args.avi}")
        for frame in frames:
            for _ in range(args.hold):
                writer.write(frame)
        writer.release()


if __name__ == "__main__":
    main()
