using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Caldera.Common;

namespace Caldera.Runtime.Training.FineTuning;

/// <summary>
/// Everything a fine-tuning run needs to go on after step <see cref="Step"/> as if it had never stopped: the factors, the
/// AdamW moments, the best validation step's factors, and the losses so far. The window order and the schedule follow
/// from the step number and the seed, so no data position or random state is stored beyond it. The run it belongs to is
/// named by <see cref="Identity"/> (base checksum, data hash and every setting but the thread count); a checkpoint of
/// another run is refused.
///   magic "CALDCKPT", XxHash3-64 of the rest, then little-endian fields (see <see cref="Write"/>).
/// </summary>
internal sealed class FineTuneCheckpoint
{
    private const int HeaderSize = 16;
    private static ReadOnlySpan<byte> Magic => "CALDCKPT"u8;

    public required string Identity { get; init; }
    public required int Step { get; init; }
    public required int OptimizerStep { get; init; }

    /// <summary>The parameter arrays (L_tᵀ, R_t per matrix, then the trained gains), their m and v, and the best step's parameters (empty when none).</summary>
    public required float[][] Parameters { get; init; }
    public required float[][] M { get; init; }
    public required float[][] V { get; init; }
    public required float[][] Best { get; init; }

    public required int KeptStep { get; init; }
    public required double BestLoss { get; init; }
    public required double[] Losses { get; init; }
    public required (int Step, double Loss)[] ValidationLosses { get; init; }

    public void Write(string path)
    {
        using var body = new MemoryStream();
        using (var w = new BinaryWriter(body))
        {
            w.Write(Identity);
            w.Write(Step);
            w.Write(OptimizerStep);
            w.Write(KeptStep);
            w.Write(BestLoss);
            w.Write(Losses.Length);
            foreach (double loss in Losses) w.Write(loss);
            w.Write(ValidationLosses.Length);
            foreach (var (step, loss) in ValidationLosses)
            {
                w.Write(step);
                w.Write(loss);
            }
            foreach (var arrays in new[] { Parameters, M, V, Best })
            {
                w.Write(arrays.Length);
                foreach (var a in arrays)
                {
                    w.Write(a.Length);
                    w.Write(MemoryMarshal.AsBytes(a.AsSpan()));
                }
            }
        }
        var content = body.ToArray();
        var bytes = new byte[HeaderSize + content.Length];
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), XxHash3.HashToUInt64(content));
        content.CopyTo(bytes, HeaderSize);
        AtomicFile.WriteAllBytes(path, bytes);
    }

    /// <summary>Reads a checkpoint; damage is a <see cref="FineTuningException"/> naming the file.</summary>
    public static FineTuneCheckpoint Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < HeaderSize || !bytes.AsSpan(0, 8).SequenceEqual(Magic))
            throw new FineTuningException($"{path} is not a fine-tuning checkpoint; delete it to start over");
        if (BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8)) != XxHash3.HashToUInt64(bytes.AsSpan(HeaderSize)))
            throw new FineTuningException($"{path}: checksum mismatch, the checkpoint is damaged; delete it to start over");
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes, HeaderSize, bytes.Length - HeaderSize));
            string identity = r.ReadString();
            int step = r.ReadInt32(), optimizerStep = r.ReadInt32(), kept = r.ReadInt32();
            double bestLoss = r.ReadDouble();
            var losses = new double[Count(r, bytes.Length / 8)];
            for (int i = 0; i < losses.Length; i++) losses[i] = r.ReadDouble();
            var validation = new (int, double)[Count(r, bytes.Length / 12)];
            for (int i = 0; i < validation.Length; i++) validation[i] = (r.ReadInt32(), r.ReadDouble());
            float[][] Arrays()
            {
                var arrays = new float[Count(r, bytes.Length / 4)][];
                for (int i = 0; i < arrays.Length; i++)
                {
                    arrays[i] = new float[Count(r, bytes.Length / 4)];
                    r.Read(MemoryMarshal.AsBytes(arrays[i].AsSpan()));
                }
                return arrays;
            }
            return new FineTuneCheckpoint
            {
                Identity = identity, Step = step, OptimizerStep = optimizerStep, KeptStep = kept, BestLoss = bestLoss, Losses = losses,
                ValidationLosses = validation, Parameters = Arrays(), M = Arrays(), V = Arrays(), Best = Arrays(),
            };
        }
        catch (EndOfStreamException)
        {
            throw new FineTuningException($"{path} is truncated; delete it to start over");
        }

        static int Count(BinaryReader r, int max)
        {
            int n = r.ReadInt32();
            if (n < 0 || n > max) throw new EndOfStreamException();
            return n;
        }
    }
}
