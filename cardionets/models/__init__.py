"""Models: the ST-MEM ECG encoder, the ViT CMR encoder, their masked-pretraining models, heads.

Factories are named after their size (``ecg_vit_base_patch75``, ``cmr_vit_base_patch16``, ...).
Other issues add their models below (one export line each).
"""
from __future__ import annotations

from .cmr_encoder import CMREncoder, CMREncoderConfig, cmr_config, cmr_vit_base_patch16, cmr_vit_tiny_patch16
from .cmr_mae import CMRMAEConfig, CMRMaskedAutoencoder, cmr_mae_config, mae_cmr_vit_base_patch16, mae_cmr_vit_tiny_patch16
from .ecg_encoder import ECGEncoder, ECGEncoderConfig, ecg_config, ecg_vit_base_patch75, ecg_vit_tiny_patch75
from .ecg_stmem import ECGMaskedAutoencoder, STMEMConfig, stmem_config, stmem_vit_base_patch75, stmem_vit_tiny_patch75
from .heads import (ClassificationHead, Predictor, ProjectionHead, RegressionHead, classification_loss,
                    masked_mse, probabilities)
from .blocks import count_parameters
from .diffusion_head import DiffusionHeadConfig, SimpleMLPAdaLN, diffusion_head_paper, diffusion_head_tiny
from .vae3d import CineVAE3D, VAE3DConfig, build_vae, vae3d_base, vae3d_tiny
from .mar import MAR, MARConfig, build_mar, mar_base, mar_tiny
from .cross_decoder import CrossDecoderConfig, CrossModalDecoder, cross_decoder_base, cross_decoder_tiny

__all__ = [
    "CMREncoder", "CMREncoderConfig", "CMRMAEConfig", "CMRMaskedAutoencoder", "ClassificationHead",
    "ECGEncoder", "ECGEncoderConfig", "ECGMaskedAutoencoder", "Predictor", "ProjectionHead",
    "RegressionHead", "STMEMConfig", "classification_loss", "cmr_config", "cmr_mae_config",
    "cmr_vit_base_patch16", "cmr_vit_tiny_patch16", "count_parameters", "ecg_config", "ecg_vit_base_patch75",
    "ecg_vit_tiny_patch75", "mae_cmr_vit_base_patch16", "mae_cmr_vit_tiny_patch16", "masked_mse",
    "probabilities", "stmem_config", "stmem_vit_base_patch75", "stmem_vit_tiny_patch75",
]
__all__ += ["DiffusionHeadConfig", "SimpleMLPAdaLN", "diffusion_head_paper", "diffusion_head_tiny"]
__all__ += ["CineVAE3D", "VAE3DConfig", "build_vae", "vae3d_base", "vae3d_tiny", "MAR", "MARConfig", "build_mar",
            "mar_base", "mar_tiny", "CrossDecoderConfig", "CrossModalDecoder", "cross_decoder_base", "cross_decoder_tiny"]
