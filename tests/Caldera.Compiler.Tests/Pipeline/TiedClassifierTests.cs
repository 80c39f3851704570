using Caldera.Compiler.Calibration;
using Caldera.Compiler.Decomposition;
using Caldera.Compiler.Pipeline;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;

namespace Caldera.Compiler.Tests.Pipeline;

/// <summary>A classifier that is a byte-for-byte copy of the embedding is stored once, as a tied model's.</summary>
public class TiedClassifierTests
{
    private static readonly CompressionPlan Plan = new()
    {
        Method = CompressionMethod.Ldlq,
        Decomposition = CalderaOptions.Fast,
        Threads = 2,
        ParallelMatrices = 2,
    };

    [Fact]
    public void A_classifier_equal_to_the_embedding_is_stored_once_and_the_model_is_tied()
    {
        using var source = ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var copied = Untied(source, changedWeight: null);
        Assert.True(TiedWeights.ClassifierCopiesEmbedding(copied));

        var content = Compress(copied);
        Assert.True(content.Config.TiedClassifier);
        Assert.DoesNotContain(content.DenseTensors, d => d.Name == TensorNames.Output);
        Assert.Equal(source.ParameterCount, CompressedModelCheck.CountWeights(content).TotalWeights);
        Assert.Equal(source.ParameterCount, BitsPerWeight.Of(copied).Parameters);
    }

    [Fact]
    public void A_classifier_that_differs_in_one_weight_keeps_a_tensor_of_its_own()
    {
        using var source = ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var different = Untied(source, changedWeight: 12_345);
        Assert.False(TiedWeights.ClassifierCopiesEmbedding(different));

        var content = Compress(different);
        Assert.False(content.Config.TiedClassifier);
        Assert.Contains(content.DenseTensors, d => d.Name == TensorNames.Output);
        long embedding = (long)source.Config.VocabSize * source.Config.Dim;
        Assert.Equal(source.ParameterCount + embedding, CompressedModelCheck.CountWeights(content).TotalWeights);
    }

    [Fact]
    public void The_tinystories_gguf_stores_its_tied_classifier_twice_and_a_tied_checkpoint_stores_none()
    {
        using var gguf = ModelCheckpoint.Open(TestModels.TinyStories256dGguf);
        Assert.False(gguf.Config.TiedClassifier);
        Assert.True(TiedWeights.ClassifierCopiesEmbedding(gguf));
        using var tied = ModelCheckpoint.Open(TestModels.Stories260KBin);
        Assert.True(tied.Config.TiedClassifier);
        Assert.False(TiedWeights.ClassifierCopiesEmbedding(tied));
    }

    /// <summary>stories260K with its classifier written out as a tensor: the embedding's values, one of them changed when asked.</summary>
    private static ModelCheckpoint Untied(ModelCheckpoint source, int? changedWeight)
    {
        var config = source.Config with { TiedClassifier = false };
        var builder = new InMemoryCheckpoint(config, "stories260K untied");
        foreach (var (name, shape) in TensorNames.Expected(config))
        {
            var values = source.Tensor(name == TensorNames.Output ? TensorNames.TokenEmbedding : name).ToArray();
            if (name == TensorNames.Output && changedWeight is int i) values[i] += 1e-3f;
            builder.Add(name, shape, TensorType.F32, values);
        }
        return builder.Build();
    }

    private static CompressedModelContent Compress(ModelCheckpoint model) =>
        new ModelCompressor(Plan).Compress(model,
            CalibrationSet.Create(new CalibrationText(TestModels.TinyStoriesPrefix(5_000), "tinystories prefix"), ModelTokenizer.Load(TestModels.Tok512Model), samples: 2, sequenceLength: 32),
            TokenizerPayloads.FromFile(TestModels.Tok512Model), "00", cacheDirectory: null);
}
