"""Formats at the edge: COCO keypoints JSON and Ultralytics YOLO-pose folders <-> tables.

Importers read a whole file into columns in a few vectorised passes, check everything
before anything is written, and report what they assumed or filled in one warning.
"""
