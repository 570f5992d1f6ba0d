using System.Runtime.CompilerServices;

namespace Functional.AD.Properties;

/// <summary>Runs before any test of this assembly.</summary>
internal static class TestSetup
{
    /// <summary>
    /// Jitted specialisations start compiled here, not interpreted (the library's default tiering): the checks of this
    /// assembly call most functions once or twice, and must run the compiled code that steady calls run.
    /// <c>TieredJitTests</c> turns tiering on for its own thread.
    /// </summary>
    [ModuleInitializer]
    internal static void Init() => InterpretFirst.Enabled = false;
}
