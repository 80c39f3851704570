using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;

namespace Caldera.Runtime.Tests;

public class Llama2cReaderTests
{
    [Fact]
    public void Stories260K_header_and_tensors_match_the_documented_layout()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var c = model.Config;
        Assert.Equal((64, 172, 5, 8, 4, 512, 512), (c.Dim, c.HiddenDim, c.LayerCount, c.HeadCount, c.KvHeadCount, c.VocabSize, c.ContextLength));
        Assert.True(c.TiedClassifier);
        Assert.Equal(8, c.HeadDim);
        Assert.Equal([32L, 64L], model.Tensor(TensorNames.Key(4)).Shape);
        // 264,128 stored floats less the 2×2048 unused freq_cis values.
        Assert.Equal(264_128 - 4096, model.ParameterCount);
    }

    [Fact]
    public void Tok512_encodes_once_upon_a_time_as_llama2c_does()
    {
        var tokenizer = ModelTokenizer.Load(TestModels.Tok512Model);
        Assert.Equal([1, 403, 407, 261, 378], tokenizer.Encode("Once upon a time"));
    }
}
