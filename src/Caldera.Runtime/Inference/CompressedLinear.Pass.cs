using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

internal sealed partial class CompressedLinear
{
    /// <summary>
    /// The four passes of one call, in one arithmetic: <see cref="Decode"/>, <see cref="Int8Decode"/>,
    /// <see cref="Prefill"/> or <see cref="Int8Prefill"/>, chosen at construction. What a variant chooses is fixed by
    /// its type; a call only arms the pointers and the scratch buffers it runs on.
    /// </summary>
    private abstract unsafe class Pass(CompressedLinear linear, int rowGrain) : IParallelWork
    {
        private enum Step { Input, Factor, Rows, Output }

        protected readonly CompressedLinear Linear = linear;
        protected readonly CompressedLinearData D = linear._data;
        private Step _step;

        // The call's arguments and scratch: x, y (n × in, n × out), u (n × in), t = R·u and a = s_L·t (n × k).
        protected float* X, Y;
        protected int N;
        protected float[] U = [], T = [], A = [];

        protected int Columns => D.Columns;
        protected int Rows => D.Rows;
        protected int Rank => D.Rank;
        protected KernelPath Path => Linear._path;
        protected Span<float> UOf(int t) => U.AsSpan(t * Columns, Columns);
        protected Span<float> TOf(int t) => T.AsSpan(t * Rank, Rank);
        protected Span<float> YOf(int t, int start, int length) => new(Y + (long)t * Rows + start, length);

        public void Run(float* x, float* y, int n)
        {
            var scratch = Linear._scratch;
            X = x;
            Y = y;
            N = n;
            U = scratch.Inputs(n * Columns);
            T = scratch.Factors(n * Rank);
            Arm(scratch);
            // Work per item, in multiply-adds: a transform of one token, a factor row or a Q row against n tokens.
            Run(Step.Input, n, 1, (long)Columns * 8);
            if (Rank > 0) Run(Step.Factor, Rank, FactorGrain, (long)Columns * n);
            if (Rank > 0 && D.FactorBits == 4)
            {
                // a = s_L·t of every token, once for all chunks of rows
                A = scratch.LowRankInputs(n * Rank);
                TensorPrimitives.Multiply(T.AsSpan(0, n * Rank), D.LTransposedScale, A.AsSpan(0, n * Rank));
                LowRankInputsReady(scratch);
            }
            Run(Step.Rows, Rows, rowGrain, ((long)Columns + Rank) * n);
            Run(Step.Output, n, 1, (long)Rows * 8);
            X = Y = null;
        }

        private void Run(Step step, int count, int grain, long workPerItem)
        {
            _step = step;
            Linear._pool.For(count, grain, this, workPerItem);
        }

        public void Execute(int start, int end, int worker)
        {
            switch (_step)
            {
                case Step.Input:
                    for (int t = start; t < end; t++) Input(t);
                    break;
                case Step.Factor:
                    Factor(start, end, worker);
                    break;
                case Step.Rows:
                    Quantized(start, end, worker);
                    if (Rank > 0) LowRank(start, end, worker);
                    break;
                case Step.Output:
                    for (int t = start; t < end; t++) Output(t);
                    break;
            }
        }

        /// <summary>Rows of R per chunk of the factor loop.</summary>
        protected virtual int FactorGrain => Linear._rankGrain;

        /// <summary>Takes the variant's own per-call buffers from <paramref name="scratch"/> for the armed <see cref="N"/> tokens.</summary>
        protected virtual void Arm(CompressedLinearScratch scratch)
        {
        }

        /// <summary>Runs once a (4-bit L) holds every token's s_L·t, before the rows.</summary>
        protected virtual void LowRankInputsReady(CompressedLinearScratch scratch)
        {
        }

        // u = U_nᵀ(SU ⊙ x)
        protected virtual void Input(int t)
        {
            var x = new ReadOnlySpan<float>(X + (long)t * Columns, Columns);
            if (Linear._input is { } input) input.Forward(x, UOf(t));
            else x.CopyTo(UOf(t));
        }

        // t = R·u   R: k×n, rows [start, end)
        protected abstract void Factor(int start, int end, int worker);

        // z = Q·u for output rows [start, end)
        protected abstract void Quantized(int start, int end, int worker);

        // z += L·t for output rows [start, end); start is a multiple of 8
        protected abstract void LowRank(int start, int end, int worker);

        // y = g·SV ⊙ (V_m·z)
        private void Output(int t)
        {
            var y = YOf(t, 0, Rows);
            Linear._output?.Inverse(y, y);
            TensorPrimitives.Multiply(y, D.GlobalScale, y);
        }

        // t = R·u for all N tokens: the chunk's rows of R decoded once, then one register-tiled product.
        protected void FactorByDecodedRows(int start, int end, int worker)
        {
            int n = Columns, words = E8PResidualLattice.WordCount(n), m = end - start;
            bool lattice = D.FactorBits == 4;
            ReadOnlySpan<ushort> codes = D.RCodes.Span;
            ReadOnlySpan<Half> halves = D.R.Span;
            Span<float> scratch = Linear._pool.Scratch(worker, m * n + MatMul.ScratchLength(n));
            Span<float> block = scratch[..(m * n)];
            for (int r = start; r < end; r++)
            {
                Span<float> row = block.Slice((r - start) * n, n);
                if (lattice)
                {
                    CodedRows.DecodeResidual(codes.Slice(r * words, words), row, Path);
                    TensorPrimitives.Multiply(row, D.RScale, row);
                }
                else TensorPrimitives.ConvertToSingle(halves.Slice(r * n, n), row);
            }
            MatMul.Multiply(MemoryMarshal.AsBytes(block), TensorType.F32, m, U.AsSpan(0, N * n), N,
                T.AsSpan(start, (N - 1) * Rank + m), Rank, scratch[(m * n)..], Path);
        }

        // z += L·t for all N tokens with 16-bit L, one row of L at a time.
        protected void LowRankHalves(int start, int end, int worker)
        {
            ReadOnlySpan<Half> l = D.L.Span;
            Span<float> row = Linear._pool.Scratch(worker, Rank);
            for (int i = start; i < end; i++)
            {
                TensorPrimitives.ConvertToSingle(l.Slice(i * Rank, Rank), row);
                for (int t = 0; t < N; t++) Y[(long)t * Rows + i] += TensorPrimitives.Dot(row, TOf(t));
            }
        }

        // z += L·t for one token with 4-bit L: all ranks at once over the block, z in registers.
        protected void LowRankAllRanks(int start, int end)
        {
            // Lᵀ row r holds column r of L; the block's words start at vector start/8.
            int length = end - start, rowWords = E8PResidualLattice.WordCount(Rows), blockWords = E8PResidualLattice.WordCount(length);
            int first = start / E8PLattice.Dimension * E8PResidualLattice.WordsPerVector;
            Linear._kernels.AddLRanks(D.LTransposedCodes.Span.Slice(first, (Rank - 1) * rowWords + blockWords), rowWords,
                A.AsSpan(0, Rank), YOf(0, start, length));
        }
    }
}
