namespace Caldera.Cli;

internal static class Usage
{
    public static int Print(TextWriter writer, int exitCode)
    {
        writer.WriteLine("""
            usage:
              caldera run <model> [--tokenizer <file>] --prompt "..." [--steps N] [--temperature T]
                          [--top-p P] [--top-k K] [--repetition-penalty R] [--seed S] [--threads N] [--float]
              caldera inspect <model>
              caldera compress <model> -o <out.cald> [--tokenizer <file>] [--method caldera|ldlq|rtn]
                          [--rank 64] [--q-bits 2] [--lr-bits 4|16] [--preset fast|paper]
                          [--calibration <text file>] [--samples N] [--seq-len L] [--threads N]
              caldera eval <model> --text <file> [--reference <model>] [--ctx 256] [--tokenizer <file>]
                          [--threads N] [--int8] [--int8-classifier | --int6-classifier] [--json]
              caldera describe <model.cald> --name <Class> --namespace <Ns> -o <Class.model.json>
                          [--storage resource|trailer] [--resource-name <logical name>]

            <model> is a Hugging Face directory (config.json + *.safetensors), a .gguf file, a llama2.c .bin
            or a compressed .cald model (which carries its tokenizer). compress caches finished layers in
            <out.cald>.parts/ and resumes from them when rerun with the same settings; --q-bits other than 2
            needs --method rtn. run decodes with int8 arithmetic: compressed layers with int8 activations and
            the classifier as a 6-bit copy made at load (one scale per 32 weights), at the quality cost
            docs/quality.md measures; --float runs every step in float with the classifier as stored. eval
            scores float arithmetic unless asked: --int8 scores int8 decoding (one token at a time),
            --int8-classifier the int8 classifier and --int6-classifier the 6-bit one.
            describe writes the model description the Caldera source generator reads (docs/build-integration.md).
            """);
        return exitCode;
    }
}
