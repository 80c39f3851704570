namespace Caldera.Runtime.Model;

/// <summary>
/// Which query/key components RoPE rotates together. Meta's original checkpoints, llama2.c and GGUF
/// ("NORM" rope) rotate adjacent pairs (2i, 2i+1); Hugging Face transformers permutes the q/k rows so
/// that it rotates (i, i + headDim/2) ("rotate half"). Both give the same model when the rotation
/// matches the row order, so loaders keep the rows as stored and record the convention here.
/// </summary>
internal enum RopePairing
{
    Interleaved,
    RotateHalf,
}
