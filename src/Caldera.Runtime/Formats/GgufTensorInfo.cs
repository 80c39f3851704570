namespace Caldera.Runtime.Formats;

/// <summary>
/// One entry of GGUF's tensor table. GGUF lists dims innermost first (ne0 = the input width of a matrix);
/// <see cref="Shape"/> is reversed to the runtime's outermost-first order, so a matrix is [ne1 = out, ne0 = in].
/// <see cref="Offset"/> is relative to the start of the aligned data section.
/// </summary>
internal sealed record GgufTensorInfo(string Name, long[] Shape, uint GgmlType, ulong Offset);
