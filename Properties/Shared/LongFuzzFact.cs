using Xunit;

namespace Functional.AD.Properties;

/// <summary>A fact that runs only when <c>FAD_FUZZ_PROGRAMS</c> is set (the long fuzz runs); otherwise it is skipped,
/// saying how to run it. Compiled into both property projects.</summary>
public sealed class LongFuzzFactAttribute : FactAttribute
{
    public LongFuzzFactAttribute()
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("FAD_FUZZ_PROGRAMS")))
            Skip = "FAD_FUZZ_PROGRAMS is not set: the long fuzz runs with FAD_FUZZ_PROGRAMS=N (or dotnet cake --target=Fuzz --programs=100000).";
    }
}
