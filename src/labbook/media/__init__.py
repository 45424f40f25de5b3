"""Converting user objects (arrays, images, figures, audio, video, frames) into assets and events."""
