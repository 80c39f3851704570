using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// A dense weight matrix quantised once, at construction, to 6-bit levels in blocks of 32 (<see cref="Int6Blocks"/>), and
/// applied to an input quantised per token to int8 as <see cref="Int8DenseLinear"/> quantises it: y = Ŵ·x̂ with
/// <see cref="Int6BlockRows"/> (the loop and the batch tiling are <see cref="QuantizedDenseLinear"/>'s). Built for
/// the classifier (<see cref="ClassifierPrecision.Int6"/>): 6.5 bits per weight streamed per token instead of the int8
/// copy's 9 (F16: 16), at the rounding error docs/quality.md measures. A matrix stored in this form
/// (<see cref="TensorType.Int6Blocks"/>, what <c>caldera compress</c> writes for the classifier) is read in place:
/// no copy, nothing converted at load.
/// </summary>
internal sealed unsafe class Int6DenseLinear : QuantizedDenseLinear
{
    private readonly int _blocks, _paddedColumns, _rowBytes;
    private readonly byte* _planes;
    private readonly ushort* _scales;
    private sbyte[] _inputLevels = [];
    private float[] _inputScales = [];
    private int[] _inputOffsets = [];

    /// <summary>
    /// Reads <paramref name="weight"/> in place when it is stored as <see cref="TensorType.Int6Blocks"/>; quantises it (F32,
    /// F16 or BF16, [rows, columns]) on <paramref name="pool"/>'s threads into a copy otherwise.
    /// </summary>
    public Int6DenseLinear(TensorView weight, WorkerPool pool) : base(weight, pool)
    {
        _blocks = Int6Blocks.BlockCount(InputDim);
        _paddedColumns = Int6Blocks.PaddedLength(InputDim);
        long rowBytes = Int6Blocks.RowBytes(InputDim);
        if (weight.Type == TensorType.Int6Blocks)
        {
            _rowBytes = (int)rowBytes; // InputDim ≤ LlamaConfig.MaxDimension
            _planes = weight.Data;
            _scales = (ushort*)(weight.Data + Int6Blocks.MatrixPlaneBytes(OutputDim, InputDim));
            UseStoredRows();
            return;
        }
        _planes = Allocate<byte>(OutputDim * rowBytes, weight, "a 6-bit copy");
        _rowBytes = (int)rowBytes; // Allocate refused a copy one array cannot hold, so a row fits an int

        _scales = Allocate<ushort>((long)OutputDim * _blocks, weight, "a 6-bit copy's scales");
        QuantizeRows(weight);
    }

    /// <summary>Plane bytes of row <paramref name="row"/>: <see cref="Int6Blocks.RowBytes"/> of the input dimension.</summary>
    internal ReadOnlySpan<byte> RowPlanes(int row) => new(_planes + (long)row * _rowBytes, _rowBytes);

    /// <summary>BF16 block scales of row <paramref name="row"/>: <see cref="Int6Blocks.BlockCount"/> of the input dimension.</summary>
    internal ReadOnlySpan<ushort> RowScales(int row) => new(_scales + (long)row * _blocks, _blocks);

    protected override void QuantizeRow(ReadOnlySpan<float> row, int r) =>
        Int6Blocks.QuantizeRow(row, new Span<byte>(_planes + (long)r * _rowBytes, _rowBytes), new Span<ushort>(_scales + (long)r * _blocks, _blocks));

    protected override void PrepareInputs(int n)
    {
        if (_inputScales.Length >= n * _blocks) return;
        _inputLevels = new sbyte[n * _paddedColumns];
        _inputScales = new float[n * _blocks];
        _inputOffsets = new int[n * _blocks];
    }

    protected override void QuantizeInput(ReadOnlySpan<float> x, int t) =>
        Int6Blocks.QuantizeInput(x, _inputLevels.AsSpan(t * _paddedColumns, _paddedColumns), _inputScales.AsSpan(t * _blocks, _blocks),
            _inputOffsets.AsSpan(t * _blocks, _blocks));

    protected override void DotRows(int r, int t, Span<float> y) =>
        Int6BlockRows.DotRows(new ReadOnlySpan<byte>(_planes + (long)r * _rowBytes, y.Length * _rowBytes),
            new ReadOnlySpan<ushort>(_scales + (long)r * _blocks, y.Length * _blocks),
            _inputLevels.AsSpan(t * _paddedColumns, _paddedColumns), _inputScales.AsSpan(t * _blocks, _blocks),
            _inputOffsets.AsSpan(t * _blocks, _blocks), y);

    /// <summary>The chunk's rows unpacked once for all <paramref name="n"/> tokens (<see cref="Int6BlockRows.DotRowsTokens"/>).</summary>
    protected override void DotRowsTokens(int r, int count, int n, float* y) =>
        Int6BlockRows.DotRowsTokens(new ReadOnlySpan<byte>(_planes + (long)r * _rowBytes, count * _rowBytes),
            new ReadOnlySpan<ushort>(_scales + (long)r * _blocks, count * _blocks), count,
            _inputLevels.AsSpan(0, n * _paddedColumns), _inputScales.AsSpan(0, n * _blocks), _inputOffsets.AsSpan(0, n * _blocks), n,
            new Span<float>(y + r, (n - 1) * OutputDim + count), OutputDim, Int8CodedRows.Best);
}
