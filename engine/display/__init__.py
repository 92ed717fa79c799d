"""Display models of the viewer without Qt: slice sources, the slice cache, label colour
tables, window/level presets and the mapping between screen pixels, voxels and millimetres.
"""
