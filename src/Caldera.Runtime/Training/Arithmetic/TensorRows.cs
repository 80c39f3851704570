using System.Runtime.InteropServices;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Training.Arithmetic;

/// <summary>
/// A checkpoint's matrix read in place: each segment converted from the mapped F32, F16 or BF16 elements as it is
/// needed (F32 handed out as it is), so a pass over a full-precision model holds no fp32 copy of its weights.
/// </summary>
internal sealed class TensorRows : RowMatrix
{
    private readonly TensorView _view;

    private TensorRows(TensorView view) : base(view.Rows, view.Columns) => _view = view;

    /// <summary>The matrix read in place, or widened once into <see cref="FloatRows"/> when its rows are not element by element (the block types).</summary>
    public static RowMatrix Of(TensorView view) =>
        view.Type.IsElementwise() ? new TensorRows(view) : new FloatRows(view.ToArray(), view.Rows, view.Columns);

    public override ReadOnlySpan<float> Segment(int row, int start, int length, Span<float> scratch)
    {
        int size = _view.Type.ElementSize();
        var bytes = _view.RowBytes(row).Slice(start * size, length * size);
        if (_view.Type == TensorType.F32) return MemoryMarshal.Cast<byte, float>(bytes);
        TensorView.Convert(bytes, _view.Type, scratch[..length]);
        return scratch[..length];
    }
}
