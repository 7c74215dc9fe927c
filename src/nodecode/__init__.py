"""nodecode: image understanding straight from learned-codec bitstreams.

Implements Torfason et al., "Towards Image Understanding from Deep Compression
without Decoding" (ICLR 2018), with real entropy-coded bitstreams on top.
"""

__version__ = "0.1.0"
