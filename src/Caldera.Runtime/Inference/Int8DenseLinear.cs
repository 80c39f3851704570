using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// A dense weight matrix quantised once, at construction, to int8 in blocks of 32 (<see cref="Int8Blocks"/>), and
/// applied to an input quantised the same way per token: y = Ŵ·x̂ with <see cref="Int8BlockRows"/> (the loop and the
/// batch tiling are <see cref="QuantizedDenseLinear"/>'s). Built for the classifier (<see cref="ClassifierPrecision.Int8"/>):
/// 9 bits per weight streamed per token instead of F16's 16, at the rounding error docs/quality.md measures.
/// </summary>
internal sealed unsafe class Int8DenseLinear : QuantizedDenseLinear
{
    private readonly int _blocks, _paddedColumns;
    private readonly sbyte* _levels;
    private readonly float* _scales;
    private sbyte[] _inputLevels = [];
    private float[] _inputScales = [];

    /// <summary>Quantises <paramref name="weight"/> (F32, F16 or BF16, [rows, columns]) on <paramref name="pool"/>'s threads.</summary>
    public Int8DenseLinear(TensorView weight, WorkerPool pool) : base(weight, pool)
    {
        _blocks = Int8Blocks.BlockCount(InputDim);
        _paddedColumns = Int8Blocks.PaddedLength(InputDim);
        _levels = Allocate<sbyte>((long)OutputDim * _paddedColumns, weight, "an int8 copy");
        _scales = Allocate<float>((long)OutputDim * _blocks, weight, "an int8 copy's scales");
        QuantizeRows(weight);
    }

    /// <summary>Levels of row <paramref name="row"/>: <see cref="Int8Blocks.PaddedLength"/> of the input dimension.</summary>
    internal ReadOnlySpan<sbyte> RowLevels(int row) => new(_levels + (long)row * _paddedColumns, _paddedColumns);

    /// <summary>Block scales of row <paramref name="row"/>: <see cref="Int8Blocks.BlockCount"/> of the input dimension.</summary>
    internal ReadOnlySpan<float> RowScales(int row) => new(_scales + (long)row * _blocks, _blocks);

    protected override void QuantizeRow(ReadOnlySpan<float> row, int r) =>
        Int8Blocks.Quantize(row, new Span<sbyte>(_levels + (long)r * _paddedColumns, _paddedColumns), new Span<float>(_scales + (long)r * _blocks, _blocks));

    protected override void PrepareInputs(int n)
    {
        if (_inputScales.Length >= n * _blocks) return;
        _inputLevels = new sbyte[n * _paddedColumns];
        _inputScales = new float[n * _blocks];
    }

    protected override void QuantizeInput(ReadOnlySpan<float> x, int t) =>
        Int8Blocks.Quantize(x, _inputLevels.AsSpan(t * _paddedColumns, _paddedColumns), _inputScales.AsSpan(t * _blocks, _blocks));

    protected override void DotRows(int r, int t, Span<float> y) =>
        Int8BlockRows.DotRows(new ReadOnlySpan<sbyte>(_levels + (long)r * _paddedColumns, y.Length * _paddedColumns),
            new ReadOnlySpan<float>(_scales + (long)r * _blocks, y.Length * _blocks),
            _inputLevels.AsSpan(t * _paddedColumns, _paddedColumns), _inputScales.AsSpan(t * _blocks, _blocks), y);
}
