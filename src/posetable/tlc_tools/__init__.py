"""3LC's ``tlc_tools`` over posetable (``from posetable.tlc_tools.split import split_table``)."""
