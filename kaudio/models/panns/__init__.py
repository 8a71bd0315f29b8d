"""PANNs CNN14 / CNN10 backbones (Kong et al.), reference sheet section 3."""
