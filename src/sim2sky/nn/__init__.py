"""Engine: networks as plain ``nn.Module`` s — conditional flows (zuko) and encoders."""

from .encoders import CNN1d, CNN2d, CNN3d, ENCODERS, MLP, ResNet1d, build_encoder
from .layers import DomainDiscriminator, GradientReversal, reversal_weight
from .flows import FLOWS, BoxLogitTransform, FastRQSTransform, LazyBoxLogit, LazyStandardize, build_flow

__all__ = ["CNN1d", "CNN2d", "CNN3d", "ENCODERS", "MLP", "ResNet1d", "build_encoder",
           "DomainDiscriminator", "GradientReversal", "reversal_weight", "FLOWS", "BoxLogitTransform", "FastRQSTransform", "LazyBoxLogit", "LazyStandardize", "build_flow"]
