"""Generation for any length of speech: windowing, blending, compositing and video output."""
