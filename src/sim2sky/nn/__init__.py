"""Engine: networks as plain ``nn.Module`` s — conditional flows (zuko) and encoders."""

from .encoders import CNN1d, CNN2d, CNN3d, ENCODERS, MLP, ResNet1d, build_encoder
from .flows import FLOWS, BoxLogitTransform, FastRQSTransform, LazyBoxLogit, LazyStandardize, build_flow

__all__ = ["CNN1d", "CNN2d", "CNN3d", "ENCODERS", "MLP", "ResNet1d", "build_encoder",
           "FLOWS", "BoxLogitTransform", "FastRQSTransform", "LazyBoxLogit", "LazyStandardize", "build_flow"]
