using Caldera.Runtime.Model;

namespace Caldera.Runtime.Formats;

/// <summary>One safetensors header entry, with <see cref="Offset"/> already made absolute within its file.</summary>
internal sealed record SafetensorsTensor(string Name, TensorType Type, long[] Shape, long Offset, long ByteLength);
