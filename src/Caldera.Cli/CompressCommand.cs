using System.Diagnostics;
using System.Globalization;
using Caldera.Compiler.Calibration;
using Caldera.Compiler.Decomposition;
using Caldera.Compiler.Evaluation;
using Caldera.Compiler.Pipeline;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;

namespace Caldera.Cli;

/// <summary>
/// <c>caldera compress</c>: calibrate, compress every block matrix, and write the compressed model. Progress
/// goes to stderr; finished blocks are cached in <c>&lt;out&gt;.parts/</c> so a rerun of an interrupted
/// compression (Ctrl+C, a crash) picks up where it stopped. The cache is removed once the model is written.
/// </summary>
internal static class CompressCommand
{
    private static readonly string[] Options =
        ["-o", "--output", "--tokenizer", "--rank", "--q-bits", "--lr-bits", "--calibration", "--samples", "--seq-len", "--preset", "--method", "--threads"];

    /// <summary>Calibration sequence length when --seq-len is not given (capped at the model's context).</summary>
    private const int DefaultSequenceLength = 128;

    public static int Execute(string[] args, TextWriter stdout, TextWriter stderr, CompressedModelFormat format, CancellationToken cancellation = default)
    {
        var cl = new CommandLine("compress", args, Options);
        string modelPath = cl.Single("checkpoint");
        string output = cl.String("-o") ?? cl.String("--output") ?? throw new CliUsageException("compress: -o <out.cald> is required");
        if (cl.String("-o") != null && cl.String("--output") != null) throw new CliUsageException("compress: give -o or --output, not both");
        var plan = Plan(cl);
        int? samples = cl.Int("--samples", min: 1);
        int? sequenceLength = cl.Int("--seq-len", min: 2);
        var writer = format.Writer ?? throw new CliUsageException("compress: this build has no compressed-model writer");
        OutputPath.Check("compress", "-o", output, modelPath, cl.String("--tokenizer"), cl.String("--calibration"));

        using var checkpoint = ModelCheckpoint.Open(modelPath);
        var tokenizer = TokenizerSource.Find(modelPath, cl.String("--tokenizer"), checkpoint);
        var text = cl.String("--calibration") is { } calibrationPath ? CalibrationText.FromFile(calibrationPath) : CalibrationText.BuiltIn();
        int length = sequenceLength ?? Math.Min(DefaultSequenceLength, checkpoint.Config.ContextLength);
        if (length > checkpoint.Config.ContextLength)
            throw new CliUsageException($"compress: --seq-len {length} exceeds the model's context of {checkpoint.Config.ContextLength}");
        var calibration = CalibrationSet.Create(text, tokenizer.Tokenizer, samples, length);
        stderr.WriteLine($"calibration: {calibration.Samples} sequences × {calibration.SequenceLength} tokens from {calibration.Description}");

        string cacheDirectory = LayerCache.DirectoryFor(output);
        var clock = Stopwatch.StartNew();
        CompressedModelContent content;
        try
        {
            content = new ModelCompressor(plan).Compress(checkpoint, calibration, tokenizer.Payload, SourceHash.Of(modelPath),
                cacheDirectory, new ConsoleProgress(stderr), cancellation);
        }
        catch (Exception e) when (WriteError(e) is { } io)
        {
            throw OutputPath.WriteFailed(cacheDirectory, io, " (finished layers already there are kept and resumed from)");
        }
        try
        {
            writer.Write(content, output);
        }
        catch (Exception e) when (WriteError(e) is { } io)
        {
            throw OutputPath.WriteFailed(output, io, $" (the finished layers stay in {cacheDirectory} and a rerun resumes from them)");
        }
        if (Directory.Exists(cacheDirectory)) Directory.Delete(cacheDirectory, recursive: true);

        var bits = StorageBits.Of(content);
        double meanError = content.Matrices.Average(m => m.RelativeError);
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {output}: {content.Matrices.Count} matrices, {bits.LayerBitsPerWeight:F3} bits per weight in the linear layers, {bits.ModelBitsPerWeight:F3} overall, mean relative error {meanError:F4}, {clock.Elapsed.TotalSeconds:F1} s"));
        return 0;
    }

    /// <summary>An I/O failure (thrown directly or from a worker thread), or null for any other exception.</summary>
    private static Exception? WriteError(Exception e) => e switch
    {
        IOException or UnauthorizedAccessException => e,
        AggregateException a => a.Flatten().InnerExceptions is [var inner] ? WriteError(inner) : null,
        _ => null,
    };

    private static CompressionPlan Plan(CommandLine cl)
    {
        string method = cl.Choice("--method", "caldera", "caldera", "ldlq", "rtn");
        string preset = cl.Choice("--preset", "fast", "fast", "paper");
        int qBits = cl.Int("--q-bits", min: 1) ?? 2;
        if (method != "rtn" && qBits != 2)
            throw new CliUsageException($"compress: --q-bits {qBits} is not available for {method}, whose Q is the 2-bit E8P lattice; use --q-bits 2, or --method rtn for other widths");
        if (method == "rtn" && qBits is < 2 or > 8)
            throw new CliUsageException($"compress: --q-bits {qBits} must be in 2..8 for rtn");
        int rank = cl.Int("--rank", min: 1) ?? 64;
        if (method != "caldera" && cl.String("--rank") != null)
            throw new CliUsageException($"compress: --rank applies to --method caldera only ({method} has no low-rank factors)");
        int lrBits = cl.Int("--lr-bits", min: 1) ?? 4;
        if (lrBits is not (4 or 16)) throw new CliUsageException($"compress: --lr-bits {lrBits} must be 4 (lattice) or 16 (half precision)");
        int threads = cl.Int("--threads", min: 1) ?? Environment.ProcessorCount;
        var options = (preset == "paper" ? CalderaOptions.Paper : CalderaOptions.Fast) with { Rank = rank, FactorBits = lrBits };
        return new CompressionPlan
        {
            Method = method switch { "caldera" => CompressionMethod.Caldera, "ldlq" => CompressionMethod.Ldlq, _ => CompressionMethod.Rtn },
            Decomposition = options,
            Preset = preset,
            RtnBits = qBits,
            Threads = threads,
            ParallelMatrices = Math.Max(1, Math.Min(7, threads / 2)),
        };
    }

    /// <summary>One line per step: block i/N, matrix, error, elapsed, ETA.</summary>
    private sealed class ConsoleProgress(TextWriter writer) : IProgress<CompressionProgress>
    {
        public void Report(CompressionProgress p)
        {
            string where = $"layer {p.Layer + 1}/{p.LayerCount}";
            string time = $"elapsed {Clock(p.Elapsed)}" + (p.Remaining is { } left ? $"  eta {Clock(left)}" : "");
            writer.WriteLine(p.Event switch
            {
                CompressionEvent.MatrixCompressed => string.Create(CultureInfo.InvariantCulture, $"{where}  {p.Matrix,-4}  error {p.RelativeError:F4}  {time}"),
                CompressionEvent.LayerCompressed => $"{where}  done  {time}",
                CompressionEvent.LayerFromCache => $"{where}  from cache",
                _ => $"{where}  cache not used: {p.Note}",
            });
            writer.Flush();
        }

        private static string Clock(TimeSpan t) => t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"mm\:ss", CultureInfo.InvariantCulture);
    }
}
