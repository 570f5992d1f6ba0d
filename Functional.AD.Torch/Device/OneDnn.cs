using System.Reflection;
using System.Runtime.InteropServices;

namespace Functional.AD.Torch;

/// <summary>
/// Turns libtorch's oneDNN (MKLDNN) convolution path off while this backend's CPU convolutions run. libtorch 2.10's CPU
/// float32 convolutions through oneDNN gave wrong values (O(1) errors, sometimes all zeros) on a small fraction of
/// random geometries, and not the same ones on every machine or run (docs/convolutions.md); its own convolution
/// (im2col and a GEMM) agreed with float64 on every geometry tried. TorchSharp exposes no switch for this, so the flag is
/// libtorch's own <c>at::globalContext().setUserEnabledMkldnn</c>, found by its exported name. The flag is global:
/// the first convolution in flight turns it off and the last one puts back what it was, so other TorchSharp code
/// in the process runs on libtorch's own convolution only while one of ours is running. Where the symbols are not
/// found (a libtorch built with another compiler), <see cref="Available"/> is false and nothing changes.
/// </summary>
internal static class OneDnn
{
    delegate IntPtr GlobalContext();
    delegate void SetEnabled(IntPtr context, byte enabled);
    delegate byte GetEnabled(IntPtr context);

    static readonly GlobalContext? context;
    static readonly SetEnabled? set;
    static readonly GetEnabled? get;
    static readonly object gate = new();
    static int inFlight;
    static bool saved;

    static OneDnn()
    {
        foreach (var name in new[] { "libtorch_cpu.so", "libtorch_cpu.dylib", "torch_cpu" })
        {
            if (!NativeLibrary.TryLoad(name, typeof(OneDnn).Assembly, null, out var lib) && !NativeLibrary.TryLoad(name, out lib)) continue;
            if (NativeLibrary.TryGetExport(lib, "_ZN2at13globalContextEv", out var c)
                && NativeLibrary.TryGetExport(lib, "_ZN2at7Context20setUserEnabledMkldnnEb", out var s)
                && NativeLibrary.TryGetExport(lib, "_ZNK2at7Context17userEnabledMkldnnEv", out var g))
            {
                context = Marshal.GetDelegateForFunctionPointer<GlobalContext>(c);
                set = Marshal.GetDelegateForFunctionPointer<SetEnabled>(s);
                get = Marshal.GetDelegateForFunctionPointer<GetEnabled>(g);
                return;
            }
        }
    }

    /// <summary>Whether the switch was found.</summary>
    public static bool Available => context is not null;

    /// <summary>oneDNN off until the result is disposed (nested and concurrent uses share one off period).</summary>
    public static Scope Off()
    {
        if (context is null) return default;
        lock (gate)
        {
            if (inFlight++ == 0)
            {
                var ctx = context();
                saved = get!(ctx) != 0;
                set!(ctx, 0);
            }
        }
        return new Scope(true);
    }

    /// <summary>Ends an off period begun by <see cref="Off"/>.</summary>
    public readonly struct Scope(bool active) : IDisposable
    {
        /// <summary>Puts the flag back when this was the last convolution in flight.</summary>
        public void Dispose()
        {
            if (!active) return;
            lock (gate)
                if (--inFlight == 0) set!(context!(), saved ? (byte)1 : (byte)0);
        }
    }
}
