"""What users do with depth: predictions on their own photos, point clouds, bokeh."""
