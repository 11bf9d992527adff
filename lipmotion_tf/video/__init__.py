"""Video input: decoding at the model frame rate, face mesh landmarks and lip crops."""
