using System.Runtime.CompilerServices;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// A dense weight matrix quantised once, at construction, to int8 in blocks of 32 (<see cref="Int8Blocks"/>), and
/// applied to an input quantised the same way per token: y = Ŵ·x̂ with <see cref="Int8BlockRows"/>, output rows split
/// across a <see cref="WorkerPool"/>. Built for the classifier (<see cref="ClassifierPrecision.Int8"/>):
/// 8.5 bits per weight streamed per token instead of F16's 16, at the rounding error docs/quality.md measures.
/// </summary>
/// <remarks>
/// The int8 copy is this layer's own; the source <see cref="TensorView"/> is read once here and never again by the
/// layer (the token embedding of a tied model still reads its rows). A batch runs the one-token kernel per token over
/// tiles of <see cref="RowTile"/> rows, so each tile's levels are read from memory once for all tokens and every token's
/// logits are bit for bit what <see cref="Apply"/> gives it alone.
/// </remarks>
public sealed unsafe class Int8DenseLinearLayer : ILinearLayer
{
    /// <summary>Chunks per thread: as in <see cref="DenseLinearLayer"/>.</summary>
    private const int ChunksPerThread = 8;

    /// <summary>Rows whose levels a batch reuses across its tokens: 16 rows of 2048 are 32 KiB plus 4 KiB of scales, inside L1.</summary>
    private const int RowTile = 16;

    /// <summary>Alignment of the levels and scales: every 32-byte block load stays inside one cache line.</summary>
    private const int Alignment = 64;

    private readonly string _name;
    private readonly WorkerPool _pool;
    private readonly int _blocks, _paddedColumns, _grain;
    private readonly sbyte[] _levelStore;
    private readonly float[] _scaleStore;
    private readonly sbyte* _levels;
    private readonly float* _scales;
    private readonly RowsWork _work;
    private sbyte[] _inputLevels = [];
    private float[] _inputScales = [];

    /// <summary>Quantises <paramref name="weight"/> (F32, F16 or BF16, [rows, columns]) on <paramref name="pool"/>'s threads.</summary>
    public Int8DenseLinearLayer(TensorView weight, WorkerPool pool)
    {
        if (weight.Shape.Length != 2)
            throw new ArgumentException($"{weight.Name} has shape [{string.Join(", ", weight.Shape)}], not a matrix", nameof(weight));
        _name = weight.Name;
        _pool = pool;
        InputDim = weight.Columns;
        OutputDim = weight.Rows;
        _blocks = Int8Blocks.BlockCount(InputDim);
        _paddedColumns = Int8Blocks.PaddedLength(InputDim);
        long levelCount = (long)OutputDim * _paddedColumns;
        if (levelCount + Alignment > Array.MaxLength)
            throw new ArgumentException(
                $"{weight}: an int8 copy of {levelCount:N0} levels is larger than one array can hold; run it in its stored type (set TransformerOptions.ClassifierPrecision to Stored, or run with --float)",
                nameof(weight));
        _levelStore = GC.AllocateUninitializedArray<sbyte>((int)levelCount + Alignment, pinned: true);
        _scaleStore = GC.AllocateUninitializedArray<float>(OutputDim * _blocks + Alignment / sizeof(float), pinned: true);
        _levels = (sbyte*)Aligned(Unsafe.AsPointer(ref _levelStore[0]));
        _scales = (float*)Aligned(Unsafe.AsPointer(ref _scaleStore[0]));
        int perThread = (OutputDim + pool.ThreadCount * ChunksPerThread - 1) / (pool.ThreadCount * ChunksPerThread);
        _grain = Math.Max(4, (perThread + 3) / 4 * 4);
        pool.For(OutputDim, _grain, new QuantizeWork(this, weight, pool), InputDim);
        _work = new RowsWork(this);
        GrowInputs(1);
    }

    public int InputDim { get; }
    public int OutputDim { get; }

    /// <summary>Levels of row <paramref name="row"/>: <see cref="Int8Blocks.PaddedLength"/> of the input dimension.</summary>
    internal ReadOnlySpan<sbyte> RowLevels(int row) => new(_levels + (long)row * _paddedColumns, _paddedColumns);

    /// <summary>Block scales of row <paramref name="row"/>: <see cref="Int8Blocks.BlockCount"/> of the input dimension.</summary>
    internal ReadOnlySpan<float> RowScales(int row) => new(_scales + (long)row * _blocks, _blocks);

    public void Apply(ReadOnlySpan<float> x, Span<float> y) => ApplyBatch(x, y, 1);

    public void ApplyBatch(ReadOnlySpan<float> x, Span<float> y, int n)
    {
        if (n < 1 || x.Length != (long)n * InputDim || y.Length != (long)n * OutputDim)
            throw new ArgumentException($"{_name}: expected x of {n}×{InputDim} and y of {n}×{OutputDim}, got {x.Length} and {y.Length}");
        GrowInputs(n);
        for (int t = 0; t < n; t++)
            Int8Blocks.Quantize(x.Slice(t * InputDim, InputDim), _inputLevels.AsSpan(t * _paddedColumns, _paddedColumns),
                _inputScales.AsSpan(t * _blocks, _blocks));
        fixed (sbyte* levels = _inputLevels)
        fixed (float* scales = _inputScales, py = y)
        {
            _work.Arm(levels, scales, py, n);
            _pool.For(OutputDim, _grain, _work, (long)InputDim * n);
        }
    }

    /// <summary>Input buffers for <paramref name="n"/> tokens; they only grow, so steady-state calls allocate nothing.</summary>
    private void GrowInputs(int n)
    {
        if (_inputScales.Length >= n * _blocks) return;
        _inputLevels = new sbyte[n * _paddedColumns];
        _inputScales = new float[n * _blocks];
    }

    private static void* Aligned(void* p) => (void*)(((nuint)p + Alignment - 1) & ~(nuint)(Alignment - 1));

    /// <summary>Rows [start, end) of the source matrix widened to F32 (one row at a time) and quantised.</summary>
    private sealed class QuantizeWork(Int8DenseLinearLayer layer, TensorView weight, WorkerPool pool) : IParallelWork
    {
        public void Execute(int start, int end, int worker)
        {
            var row = pool.Scratch(worker, layer.InputDim);
            for (int r = start; r < end; r++)
            {
                weight.ReadRow(r, row);
                Int8Blocks.Quantize(row, new Span<sbyte>(layer._levels + (long)r * layer._paddedColumns, layer._paddedColumns),
                    new Span<float>(layer._scales + (long)r * layer._blocks, layer._blocks));
            }
        }
    }

    /// <summary>Rows [start, end) against the armed tokens, each token's outputs written into its row of y.</summary>
    private sealed class RowsWork(Int8DenseLinearLayer layer) : IParallelWork
    {
        private sbyte* _x;
        private float* _xScales, _y;
        private int _n;

        public void Arm(sbyte* x, float* xScales, float* y, int n)
        {
            _x = x;
            _xScales = xScales;
            _y = y;
            _n = n;
        }

        public void Execute(int start, int end, int worker)
        {
            int columns = layer._paddedColumns, blocks = layer._blocks, rows = layer.OutputDim;
            int tile = _n == 1 ? end - start : RowTile;
            for (int r = start; r < end; r += tile)
            {
                int count = Math.Min(tile, end - r);
                var weights = new ReadOnlySpan<sbyte>(layer._levels + (long)r * columns, count * columns);
                var weightScales = new ReadOnlySpan<float>(layer._scales + (long)r * blocks, count * blocks);
                for (int t = 0; t < _n; t++)
                    Int8BlockRows.DotRows(weights, weightScales, new ReadOnlySpan<sbyte>(_x + (long)t * columns, columns),
                        new ReadOnlySpan<float>(_xScales + (long)t * blocks, blocks), new Span<float>(_y + (long)t * rows + r, count));
            }
        }
    }
}
