"""Training presets: one for this project's 2-core CPU box, one for a CUDA machine. Same code for both."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainConfig:
    size: int = 256  # video frame side in pixels
    fps: float = 16.0
    # Autoencoder phase
    vae_steps: int = 2400
    vae_batch: int = 8
    vae_crop: int = 128  # train the fully convolutional VAE on crops: 4x cheaper per sample
    vae_lr: float = 4e-4
    vae_kl: float = 1e-5
    # Latent dataset: clips encoded once so the denoiser trains on latents alone
    latent_clips: int = 2400
    latent_frames: int = 24  # latent frames per clip (4 video frames each)
    # Steering examples: clips whose prompt changes at a latent frame between 3 and 8
    edit_clips: int = 600
    edit_frames: int = 12  # latent frames per edit clip
    edit_share: float = 0.3  # share of denoiser examples drawn from them, targets just after the edit
    # Shape twins: clips paired with the same scene whose every object has another shape (world.swapped),
    # over the same time. A pair is drawn with one history and one noise, and both twins again from
    # the point halfway between theirs under their own captions: the difference of those velocities
    # is what the shape words alone should change. The flow loss buries that under the rest of the
    # frame's error, and the denoiser learned to ignore the words (docs/architecture.md)
    twin_clips: int = 0  # pairs encoded once (<out>/twins.pt); 0: none
    twin_frames: int = 10  # latent frames per twin clip
    twin_pairs: int = 4  # pairs in each denoiser batch, beside its `batch` examples
    twin_first_share: float = 0.5  # share of pairs with no history: first frames, where only the words tell the shape
    twin_weight: float = 1.0  # weight of the pair term: the squared error of the pair's velocity difference over the true difference's
    # Decoder phase: the decoder alone, sharpened on full frames once the latent space is fixed
    decoder_steps: int = 1200
    decoder_batch: int = 4
    decoder_clip: int = 3  # latent frames per clip: most then decode with a real cache, as in a stream
    decoder_motion_weight: float = 4.0  # weight of the loss on frame-to-frame change
    decoder_velocity_weight: float = 0.1  # weight of the squared error (pixels per frame) of the velocity field against the true motion
    decoder_lr: float = 1e-4
    decoder_schedule_start: int = 0  # step where the decoder's cosine begins: set it to restart the schedule when continuing
    decoder_palette_weight: float = 0.2  # weight of the palette loss: a pixel of a flat fill must come out nearest its own palette colour
    # Motion phase: the decoder's velocity branch alone, on the true motion (cheap: no frames decoded)
    motion_steps: int = 400
    motion_batch: int = 16
    motion_lr: float = 1e-3
    # Denoiser phase
    model: str = "PyramidDiT-XS"
    predicts: str = "frame"  # "frame" or "residual": the denoiser's target (DiTConfig.predicts)
    continuation: str = "pyramid"  # "pyramid" or "bridge": how a frame with a past is sampled (DiTConfig.continuation)
    steps: int = 12000
    batch: int = 32
    lr: float = 5e-4
    warmup: int = 300
    schedule_start: int = 0  # step where warmup and the cosine begin: set it to restart them when continuing a run
    text_dropout: float = 0.1  # prompt dropout for classifier-free guidance
    history_noise_max: float = 0.5  # history is corrupted with sigma ~ U(0, this): learn to recover
    history_drop: float = 0.15  # also drop older history levels at random
    rollout_share: float = 0.3  # share of examples whose newest history frame the model samples itself
    foreground_weight: float = 4.0  # loss weight on latent cells that differ from the background (0: off)
    foreground_from: str = "target"  # where those cells are read: "target", "history" (its newest frame: no bias to big objects), or "history+target" (the target where there is no past)
    first_frame_share: float = 0.15  # share of examples with an empty history: first frames from text alone
    motion_fit_steps: int = 9000  # a motion head that joins a trained bridge denoiser is first fitted alone for this many steps (about 20 minutes on this CPU)
    motion_start_share: float = 0.0  # share of the other examples whose history is one frame: a stream's second frame, where the motion must start from the text alone
    stage_weights: tuple[float, ...] = (1.0, 1.0, 1.0)  # loss weight per spatial stage, coarsest first: the coarse stages place the objects, yet their loss is a fraction of the finest stage's
    ema: float = 0.999
    precision: str = "auto"  # what the denoiser phase multiplies in: "float32", "bfloat16", or "auto" (bfloat16 where the hardware has it; layers.bfloat16_matmuls)
    # The decoded-frame term: the last stage's estimate of the clean latent, decoded by the run's
    # decoder (frozen), against the true latent decoded the same way (livegen/frame_loss.py)
    decoded_weight: float = 0.0  # its weight against the flow loss (0: off)
    decoded_examples: int = 8  # examples of each batch it decodes: decoding at full resolution is the dear part of a step
    caption_weight: float = 0.0  # weight of the caption probe's loss on the text encoder (livegen/caption_probe.py; 0: off)
    # Refine phase: the decoder, on latents the trained denoiser draws (train.py, refine_decoder); 0 steps: no such phase
    refine_steps: int = 0
    refine_frames: int = 2  # target latent frames per clip, each drawn from the clip's true history
    refine_start_stage: int = 1  # the denoiser starts each draw at a spatial stage from this one to the last, from the true frame noised to the stage's start
    refine_true_share: float = 0.25  # share of target frames that keep the encoder's latent
    refine_lr: float = 5e-5
    refine_edit_share: float = 0.0  # share of batches whose clips change their prompt at the first target frame (a steering edit)
    # Critic phase: the model's first frames judged by the quality analyzer teach the FrameCritic that picks a stream's first frame
    critic_prompts: int = 900  # training-split prompts whose first frames are sampled and judged
    critic_seeds: int = 8  # first frames per prompt
    critic_steps: int = 1500
    critic_batch: int = 128
    critic_lr: float = 1e-3
    first_frame_candidates: int = 8  # first frames the engine samples per stream start; the critic keeps one (the manifest's)
    sample_every: int = 1000
    checkpoint_every: int = 200


PRESETS: dict[str, TrainConfig] = {
    "cpu": TrainConfig(),
    "gpu": TrainConfig(vae_steps=20000, vae_batch=32, vae_crop=256, decoder_steps=10000, decoder_batch=16, latent_clips=20000, latent_frames=32, edit_clips=8000,
                       model="PyramidDiT-B", steps=200000, batch=256, lr=3e-4, sample_every=5000,
                       checkpoint_every=2000),
    # A quick end-to-end pass for tests of the training code itself.
    "smoke": TrainConfig(size=128, vae_steps=2, vae_batch=2, vae_crop=64, decoder_steps=2, decoder_batch=1, decoder_clip=2, motion_steps=2, motion_batch=1, latent_clips=4, latent_frames=10, edit_clips=4, edit_frames=10,
                         model="PyramidDiT-tiny", steps=2, batch=4, warmup=1, sample_every=2, checkpoint_every=1, motion_fit_steps=2, refine_steps=2, refine_edit_share=0.5,
                         critic_prompts=2, critic_seeds=2, critic_steps=2, critic_batch=4, first_frame_candidates=2,
                         decoded_weight=1.0, decoded_examples=2, caption_weight=1.0, twin_clips=2, twin_frames=4, twin_pairs=1),
}
