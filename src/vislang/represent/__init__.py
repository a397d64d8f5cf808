"""Representation: image and text encoders behind one interface, feature stores."""
