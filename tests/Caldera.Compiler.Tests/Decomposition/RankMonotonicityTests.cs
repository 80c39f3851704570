using Caldera.Compiler.Calibration;
using Caldera.Compiler.Decomposition;
using Caldera.Compiler.LinearAlgebra;
using Caldera.Compiler.Pipeline;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;

namespace Caldera.Compiler.Tests.Decomposition;

/// <summary>More rank never fits a real matrix worse at the fast preset, with 4-bit factors.</summary>
public class RankMonotonicityTests
{
    /// <summary>
    /// The alternation is a heuristic, so a larger rank may land a little above a smaller one by chance; 2 % of the error
    /// allows that, while the failure this guards against (the Hessian downdate leaving to 4-bit factors directions they
    /// cannot fit: blk.0.attn_q went 0.098 → 0.106 → 0.114 → 0.124 from rank 4 to 32) is 8 % per doubling.
    /// </summary>
    private const double Slack = 0.02;

    [Fact]
    public void A_larger_rank_does_not_fit_the_attention_matrices_worse()
    {
        using var model = ModelCheckpoint.Open(TestModels.TinyStories256dGguf);
        var tokenizer = ModelTokenizer.FromPayload(TokenizerPayload.FromVocabulary(model.Vocabulary!), model.SourcePath);
        var set = CalibrationSet.Create(new CalibrationText(TestModels.TinyStoriesPrefix(40_000), "tinystories prefix"), tokenizer, samples: 32, sequenceLength: 128);
        using var calibrator = new LayerwiseCalibrator(model, set, threads: 2);
        var moments = calibrator.Advance(captureHessians: true)!.ReleaseSecondMoments();
        foreach (var slot in BlockMatrix.All.Where(m => m.Short is "q" or "k"))
        {
            var tensor = model.Tensor(slot.Name(0));
            var w = new Matrix<float>(tensor.Rows, tensor.Columns, tensor.ToArray());
            double previous = double.PositiveInfinity;
            foreach (int rank in new[] { 4, 8, 16, 32 })
            {
                double error = CalderaDecomposer.Decompose(w, moments[slot.Input], CalderaOptions.Fast with { Rank = rank, Threads = 2 }).RelativeError;
                Assert.True(error <= previous * (1 + Slack), $"{slot.Name(0)}: rank {rank} error {error:F4} above the smaller rank's {previous:F4}");
                previous = error;
            }
        }
    }
}
