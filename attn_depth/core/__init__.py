"""Ground floor: errors, console, files, camera, image I/O, precision; imports nothing of attn_depth above it."""
