"""Where frames come from, each a ``moodlens.frames.FrameSource``: the camera (``camera.py``),
a video file (``video_file.py``) and a batch of pictures (``photos.py``)."""
