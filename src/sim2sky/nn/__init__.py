"""Engine: networks as plain ``nn.Module`` s — conditional flows (zuko), encoders, Fourier tools, the field flow and the
conditional U-Net of flow matching."""

from .encoders import Branches, CNN1d, CNN2d, CNN3d, ENCODERS, MLP, Concat, ResNet1d, build_encoder
from .fieldflow import FieldFlow
from .fourier import PowerSpectrum, power_spectrum, shell_index, wavenumber_grid
from .unet import UNet
from .velocity import ConditionalUNet
from .layers import DomainDiscriminator, GradientReversal, reversal_weight
from .device import autocast, cache_rows, device_name, placed, torch_device
from .flows import FLOWS, BoxLogitTransform, FastRQSTransform, LazyBoxLogit, LazyStandardize, build_flow

__all__ = ["Branches", "CNN1d", "CNN2d", "CNN3d", "ENCODERS", "MLP", "Concat", "ResNet1d", "build_encoder", "FieldFlow", "PowerSpectrum", "UNet", "ConditionalUNet",
           "power_spectrum", "shell_index", "wavenumber_grid",
           "DomainDiscriminator", "GradientReversal", "reversal_weight", "FLOWS", "BoxLogitTransform", "FastRQSTransform", "LazyBoxLogit", "LazyStandardize", "build_flow",
           "autocast", "cache_rows", "device_name", "placed", "torch_device"]
