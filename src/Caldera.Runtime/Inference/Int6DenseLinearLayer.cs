using System.Runtime.CompilerServices;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// A dense weight matrix quantised once, at construction, to 6-bit levels in blocks of 32 (<see cref="Int6Blocks"/>), and
/// applied to an input quantised per token to int8 as <see cref="Int8DenseLinearLayer"/> quantises it: y = Ŵ·x̂ with
/// <see cref="Int6BlockRows"/>, output rows split across a <see cref="WorkerPool"/>. Built for the classifier
/// (<see cref="ClassifierPrecision.Int6"/>): 6.5 bits per weight streamed per token instead of the int8 copy's 8.5 (F16: 16),
/// at the rounding error docs/quality.md measures.
/// </summary>
/// <remarks>
/// The 6-bit copy is this layer's own; the source <see cref="TensorView"/> is read once here and never again by the
/// layer. A batch runs the one-token kernel per token over tiles of <see cref="RowTile"/> rows, so each tile's planes are
/// read from memory once for all tokens and every token's logits are bit for bit what <see cref="Apply"/> gives it alone.
/// </remarks>
public sealed unsafe class Int6DenseLinearLayer : ILinearLayer
{
    /// <summary>Chunks per thread: as in <see cref="DenseLinearLayer"/>.</summary>
    private const int ChunksPerThread = 8;

    /// <summary>Rows whose planes a batch reuses across its tokens: 16 rows of 2048 are 24 KiB plus 2 KiB of scales, inside L1.</summary>
    private const int RowTile = 16;

    /// <summary>Alignment of the planes and scales: a group's 192 plane bytes are three whole cache lines.</summary>
    private const int Alignment = 64;

    private readonly string _name;
    private readonly WorkerPool _pool;
    private readonly int _blocks, _paddedColumns, _rowBytes, _grain;
    private readonly byte[] _planeStore;
    private readonly ushort[] _scaleStore;
    private readonly byte* _planes;
    private readonly ushort* _scales;
    private readonly RowsWork _work;
    private sbyte[] _inputLevels = [];
    private float[] _inputScales = [];
    private int[] _inputOffsets = [];

    /// <summary>Quantises <paramref name="weight"/> (F32, F16 or BF16, [rows, columns]) on <paramref name="pool"/>'s threads.</summary>
    public Int6DenseLinearLayer(TensorView weight, WorkerPool pool)
    {
        if (weight.Shape.Length != 2)
            throw new ArgumentException($"{weight.Name} has shape [{string.Join(", ", weight.Shape)}], not a matrix", nameof(weight));
        _name = weight.Name;
        _pool = pool;
        InputDim = weight.Columns;
        OutputDim = weight.Rows;
        _blocks = Int6Blocks.BlockCount(InputDim);
        _paddedColumns = Int6Blocks.PaddedLength(InputDim);
        long rowBytes = Int6Blocks.RowBytes(InputDim), planeBytes = OutputDim * rowBytes;
        if (planeBytes + Alignment > Array.MaxLength)
            throw new ArgumentException(
                $"{weight}: a 6-bit copy of {planeBytes:N0} bytes is larger than one array can hold; run it in its stored type (set TransformerOptions.ClassifierPrecision to Stored, or run with --float)",
                nameof(weight));
        _rowBytes = (int)rowBytes;
        _planeStore = GC.AllocateUninitializedArray<byte>((int)planeBytes + Alignment, pinned: true);
        _scaleStore = GC.AllocateUninitializedArray<ushort>(OutputDim * _blocks + Alignment / sizeof(ushort), pinned: true);
        _planes = (byte*)Aligned(Unsafe.AsPointer(ref _planeStore[0]));
        _scales = (ushort*)Aligned(Unsafe.AsPointer(ref _scaleStore[0]));
        int perThread = (OutputDim + pool.ThreadCount * ChunksPerThread - 1) / (pool.ThreadCount * ChunksPerThread);
        _grain = Math.Max(4, (perThread + 3) / 4 * 4);
        pool.For(OutputDim, _grain, new QuantizeWork(this, weight, pool), InputDim);
        _work = new RowsWork(this);
        GrowInputs(1);
    }

    public int InputDim { get; }
    public int OutputDim { get; }

    /// <summary>Plane bytes of row <paramref name="row"/>: <see cref="Int6Blocks.RowBytes"/> of the input dimension.</summary>
    internal ReadOnlySpan<byte> RowPlanes(int row) => new(_planes + (long)row * _rowBytes, _rowBytes);

    /// <summary>BF16 block scales of row <paramref name="row"/>: <see cref="Int6Blocks.BlockCount"/> of the input dimension.</summary>
    internal ReadOnlySpan<ushort> RowScales(int row) => new(_scales + (long)row * _blocks, _blocks);

    public void Apply(ReadOnlySpan<float> x, Span<float> y) => ApplyBatch(x, y, 1);

    public void ApplyBatch(ReadOnlySpan<float> x, Span<float> y, int n)
    {
        if (n < 1 || x.Length != (long)n * InputDim || y.Length != (long)n * OutputDim)
            throw new ArgumentException($"{_name}: expected x of {n}×{InputDim} and y of {n}×{OutputDim}, got {x.Length} and {y.Length}");
        GrowInputs(n);
        for (int t = 0; t < n; t++)
            Int6Blocks.QuantizeInput(x.Slice(t * InputDim, InputDim), _inputLevels.AsSpan(t * _paddedColumns, _paddedColumns),
                _inputScales.AsSpan(t * _blocks, _blocks), _inputOffsets.AsSpan(t * _blocks, _blocks));
        fixed (sbyte* levels = _inputLevels)
        fixed (float* scales = _inputScales, py = y)
        fixed (int* offsets = _inputOffsets)
        {
            _work.Arm(levels, scales, offsets, py, n);
            _pool.For(OutputDim, _grain, _work, (long)InputDim * n);
        }
    }

    /// <summary>Input buffers for <paramref name="n"/> tokens; they only grow, so steady-state calls allocate nothing.</summary>
    private void GrowInputs(int n)
    {
        if (_inputScales.Length >= n * _blocks) return;
        _inputLevels = new sbyte[n * _paddedColumns];
        _inputScales = new float[n * _blocks];
        _inputOffsets = new int[n * _blocks];
    }

    private static void* Aligned(void* p) => (void*)(((nuint)p + Alignment - 1) & ~(nuint)(Alignment - 1));

    /// <summary>Rows [start, end) of the source matrix widened to F32 (one row at a time) and quantised.</summary>
    private sealed class QuantizeWork(Int6DenseLinearLayer layer, TensorView weight, WorkerPool pool) : IParallelWork
    {
        public void Execute(int start, int end, int worker)
        {
            var row = pool.Scratch(worker, layer.InputDim);
            for (int r = start; r < end; r++)
            {
                weight.ReadRow(r, row);
                Int6Blocks.QuantizeRow(row, new Span<byte>(layer._planes + (long)r * layer._rowBytes, layer._rowBytes),
                    new Span<ushort>(layer._scales + (long)r * layer._blocks, layer._blocks));
            }
        }
    }

    /// <summary>Rows [start, end) against the armed tokens, each token's outputs written into its row of y.</summary>
    private sealed class RowsWork(Int6DenseLinearLayer layer) : IParallelWork
    {
        private sbyte* _x;
        private float* _xScales, _y;
        private int* _xOffsets;
        private int _n;

        public void Arm(sbyte* x, float* xScales, int* xOffsets, float* y, int n)
        {
            _x = x;
            _xScales = xScales;
            _xOffsets = xOffsets;
            _y = y;
            _n = n;
        }

        public void Execute(int start, int end, int worker)
        {
            int columns = layer._paddedColumns, blocks = layer._blocks, rowBytes = layer._rowBytes, rows = layer.OutputDim;
            int tile = _n == 1 ? end - start : RowTile;
            for (int r = start; r < end; r += tile)
            {
                int count = Math.Min(tile, end - r);
                var planes = new ReadOnlySpan<byte>(layer._planes + (long)r * rowBytes, count * rowBytes);
                var weightScales = new ReadOnlySpan<ushort>(layer._scales + (long)r * blocks, count * blocks);
                for (int t = 0; t < _n; t++)
                    Int6BlockRows.DotRows(planes, weightScales, new ReadOnlySpan<sbyte>(_x + (long)t * columns, columns),
                        new ReadOnlySpan<float>(_xScales + (long)t * blocks, blocks), new ReadOnlySpan<int>(_xOffsets + (long)t * blocks, blocks),
                        new Span<float>(_y + (long)t * rows + r, count));
            }
        }
    }
}
