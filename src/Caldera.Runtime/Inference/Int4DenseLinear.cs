using System.Numerics.Tensors;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// A classifier stored in 4-bit blocks (<see cref="TensorType.Int4Blocks"/>: a tied model whose embedding is stored so),
/// read in place: each row is decoded (<see cref="Int4Blocks.DecodeRow(ReadOnlySpan{byte}, ReadOnlySpan{ushort}, Span{float})"/>)
/// into a worker's scratch and dotted with every input in float. 4.5 bits per weight streamed per token; nothing is
/// converted at load.
/// </summary>
internal sealed unsafe class Int4DenseLinear : ILinear
{
    /// <summary>Chunks per thread, as <see cref="DenseLinear"/>'s.</summary>
    private const int ChunksPerThread = 8;

    private readonly TensorView _weight;
    private readonly WorkerPool _pool;
    private readonly int _grain;
    private readonly RowsWork _work;

    public Int4DenseLinear(TensorView weight, WorkerPool pool)
    {
        if (weight.Type != TensorType.Int4Blocks || weight.Shape.Length != 2)
            throw new ArgumentException($"{weight.Name} is {weight.Type} [{string.Join(", ", weight.Shape)}], not an int4_blocks matrix", nameof(weight));
        _weight = weight;
        _pool = pool;
        int perThread = (weight.Rows + pool.ThreadCount * ChunksPerThread - 1) / (pool.ThreadCount * ChunksPerThread);
        _grain = Math.Max(4, perThread);
        _work = new RowsWork(weight, pool);
    }

    public int InputDim => _weight.Columns;
    public int OutputDim => _weight.Rows;

    public void Apply(ReadOnlySpan<float> x, Span<float> y) => ApplyBatch(x, y, 1);

    public void ApplyBatch(ReadOnlySpan<float> x, Span<float> y, int n)
    {
        if (n < 1 || x.Length != (long)n * InputDim || y.Length != (long)n * OutputDim)
            throw new ArgumentException($"{_weight.Name}: expected x of {n}×{InputDim} and y of {n}×{OutputDim}, got {x.Length} and {y.Length}");
        fixed (float* px = x, py = y)
        {
            _work.Arm(px, py, n);
            _pool.For(OutputDim, _grain, _work, (long)InputDim * n);
        }
    }

    /// <summary>Rows [start, end): each decoded once, then y[t, r] = W[r]·x[t] for every armed input t.</summary>
    private sealed class RowsWork(TensorView weight, WorkerPool pool) : IParallelWork
    {
        private readonly int _columns = weight.Columns;
        private readonly int _rows = weight.Rows;
        private float* _x, _y;
        private int _n;

        public void Arm(float* x, float* y, int n)
        {
            _x = x;
            _y = y;
            _n = n;
        }

        public void Execute(int start, int end, int worker)
        {
            var row = pool.Scratch(worker, _columns)[.._columns];
            for (int r = start; r < end; r++)
            {
                weight.ReadRow(r, row);
                for (int t = 0; t < _n; t++)
                    _y[(long)t * _rows + r] = TensorPrimitives.Dot(row, new ReadOnlySpan<float>(_x + (long)t * _columns, _columns));
            }
        }
    }
}
