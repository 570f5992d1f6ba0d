using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Globalization;
using System.Numerics;

namespace Functional.AD;

/// <summary>The reduction <see cref="Lax.ReduceWindow(Tensor, WindowReduction, int[], int[], string)"/> applies over each window.</summary>
/// <example><code>
/// var x = Np.Ones([1, 1, 4, 4]);
/// var m = Lax.ReduceWindow(x, WindowReduction.Mean, new[] { 1, 1, 3, 3 }, new[] { 1, 1, 1, 1 }, "SAME");   // corners 4/9
/// </code></example>
public enum WindowReduction
{
    /// <summary>The maximum of the window (padding counts as -inf, or the dtype's minimum for integers).</summary>
    Max,
    /// <summary>The sum of the window (padding counts as 0).</summary>
    Sum,
    /// <summary>The sum of the window divided by the number of window taps, padding included (PyTorch's <c>count_include_pad=True</c>).</summary>
    Mean,
}

/// <summary>How a window primitive's padding is given.</summary>
internal enum WindowPadding
{
    /// <summary>Explicit (low, high) pairs per axis (<see cref="WindowParams.Padding"/>).</summary>
    Explicit,
    /// <summary>JAX's "SAME": the output has ceil(n / stride) positions; the padding needed is split low = total / 2, high = the rest.</summary>
    Same,
    /// <summary>JAX's "VALID": no padding.</summary>
    Valid,
}

/// <summary>
/// The static parameters of the window primitives (<c>ReduceWindowMax/Sum/Mean</c> and their derivative primitives):
/// one entry per axis of the operand. Compared by value, so equal pools written differently are one node.
/// </summary>
/// <param name="Window">The window's size along each axis (at least 1).</param>
/// <param name="Strides">The step between windows along each axis (at least 1).</param>
/// <param name="Mode">How the padding is given: explicit pairs, or "SAME"/"VALID" resolved once the shape is known.</param>
/// <param name="Padding">Explicit padding as flat pairs <c>[low0, high0, low1, high1, ...]</c> (empty for SAME and VALID).</param>
/// <param name="Dilation">The window dilation along each axis (taps <c>d</c> apart; at least 1).</param>
internal sealed record WindowParams(int[] Window, int[] Strides, WindowPadding Mode, int[] Padding, int[] Dilation)
{
    /// <summary>The number of axes the window spans (the operand's rank).</summary>
    public int Rank => Window.Length;

    /// <summary>The number of taps of one window (what Mean divides by).</summary>
    public int Taps => Window.Aggregate(1, (a, b) => a * b);

    /// <inheritdoc/>
    public bool Equals(WindowParams? o) => o is not null && Mode == o.Mode && SmallArrays.Same(Window, o.Window) && SmallArrays.Same(Strides, o.Strides)
        && SmallArrays.Same(Padding, o.Padding) && SmallArrays.Same(Dilation, o.Dilation);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Mode);
        foreach (var a in new[] { Window, Strides, Padding, Dilation }) { h.Add(a.Length); foreach (var v in a) h.Add(v); }
        return h.ToHashCode();
    }

    /// <summary>
    /// Checked parameters from a public call: <paramref name="padding"/> is a string ("SAME", "VALID") or an int[] of
    /// flat (low, high) pairs; <paramref name="dilation"/> null means 1 on every axis.
    /// </summary>
    public static WindowParams Of(string op, int[] window, int[] strides, object padding, int[]? dilation)
    {
        ArgumentNullException.ThrowIfNull(window);
        ArgumentNullException.ThrowIfNull(strides);
        ArgumentNullException.ThrowIfNull(padding);
        int r = window.Length;
        if (r == 0) throw new ArgumentException($"{op}: the window must have at least one axis", nameof(window));
        if (strides.Length != r) throw new ArgumentException($"{op}: strides has {strides.Length} entries but the window has {r} (one per axis of x)", nameof(strides));
        dilation ??= Enumerable.Repeat(1, r).ToArray();
        if (dilation.Length != r) throw new ArgumentException($"{op}: windowDilation has {dilation.Length} entries but the window has {r} (one per axis of x)", nameof(dilation));
        if (window.Any(w => w < 1)) throw new ArgumentOutOfRangeException(nameof(window), $"{op}: window sizes must be at least 1, not {Eager.Dims(window)}");
        if (strides.Any(w => w < 1)) throw new ArgumentOutOfRangeException(nameof(strides), $"{op}: strides must be at least 1, not {Eager.Dims(strides)}");
        if (dilation.Any(w => w < 1)) throw new ArgumentOutOfRangeException(nameof(dilation), $"{op}: window dilations must be at least 1, not {Eager.Dims(dilation)}");
        switch (padding)
        {
            case string s when string.Equals(s, "SAME", StringComparison.OrdinalIgnoreCase):
                return new((int[])window.Clone(), (int[])strides.Clone(), WindowPadding.Same, [], (int[])dilation.Clone());
            case string s when string.Equals(s, "VALID", StringComparison.OrdinalIgnoreCase):
                return new((int[])window.Clone(), (int[])strides.Clone(), WindowPadding.Valid, [], (int[])dilation.Clone());
            case string s:
                throw new ArgumentException($"{op}: padding \"{s}\" is not \"SAME\" or \"VALID\" (or give explicit (low, high) pairs as an int[])", nameof(padding));
            case int[] p:
                if (p.Length != 2 * r) throw new ArgumentException($"{op}: explicit padding has {p.Length} entries but needs {2 * r}: a (low, high) pair per axis, flat ([low0, high0, low1, high1, ...])", nameof(padding));
                if (p.Any(v => v < 0)) throw new ArgumentOutOfRangeException(nameof(padding), $"{op}: padding must be non-negative, not {Eager.Dims(p)}");
                return new((int[])window.Clone(), (int[])strides.Clone(), WindowPadding.Explicit, (int[])p.Clone(), (int[])dilation.Clone());
            default:
                throw new ArgumentException($"{op}: padding must be \"SAME\", \"VALID\" or an int[] of (low, high) pairs", nameof(padding));
        }
    }

    /// <summary>The same window with <paramref name="k"/> leading axes of window 1, stride 1, no padding (batch axes under Vmap).</summary>
    public WindowParams WithLeadingAxes(int k)
    {
        if (k == 0) return this;
        var ones = Enumerable.Repeat(1, k).ToArray();
        return new([.. ones, .. Window], [.. ones, .. Strides], Mode, Mode == WindowPadding.Explicit ? [.. new int[2 * k], .. Padding] : [], [.. ones, .. Dilation]);
    }

    /// <summary>The padding argument as C#: <c>"SAME"</c>, <c>"VALID"</c> or <c>new int[] { ... }</c>.</summary>
    public string PaddingText => Mode switch
    {
        WindowPadding.Same => "\"SAME\"",
        WindowPadding.Valid => "\"VALID\"",
        _ => Printer.Literal(Padding),
    };

    /// <summary>The static arguments as C# (after the tensor operands): window, strides, padding, dilation.</summary>
    public string ArgsText => $"{Printer.Literal(Window)}, {Printer.Literal(Strides)}, {PaddingText}, {Printer.Literal(Dilation)}";

    /// <summary>The padding argument as a value for the public methods (a string or an int[]).</summary>
    public object PaddingArg => Mode switch { WindowPadding.Same => "SAME", WindowPadding.Valid => "VALID", _ => Padding };

    /// <summary>
    /// The low padding and output shape for an operand <paramref name="x"/>, or a <see cref="ShapeException"/>
    /// naming <paramref name="op"/> and the shapes: the rank must equal the window's, and each dilated window must fit
    /// in the padded axis.
    /// </summary>
    public WindowGeometry Resolve(string op, Aval x, params (string Name, Aval Aval)[] more)
    {
        var dims = x.Dims;
        (string, Aval)[] shapes = [("x", x), .. more];
        if (dims.Length != Rank)
            throw ShapeException.Of(op, $"the window spans {Rank} axes ({Eager.Dims(Window)}) but x has rank {dims.Length}; give one window size, stride and padding pair per axis of x{(Rank == 4 ? " (the 2-D pools take NCHW: batch, channels, height, width)" : Rank == 3 ? " (the 1-D pools take NCL: batch, channels, length)" : "")}", shapes);
        var lo = new int[Rank];
        var hi = new int[Rank];
        var od = new int[Rank];
        for (int a = 0; a < Rank; a++)
        {
            int n = dims[a], eff = (Window[a] - 1) * Dilation[a] + 1, s = Strides[a];
            switch (Mode)
            {
                case WindowPadding.Same:
                {
                    int outN = (n + s - 1) / s;
                    int total = Math.Max((outN - 1) * s + eff - n, 0);
                    lo[a] = total / 2; hi[a] = total - lo[a];
                    break;
                }
                case WindowPadding.Valid: break;
                default: lo[a] = Padding[2 * a]; hi[a] = Padding[2 * a + 1]; break;
            }
            int padded = n + lo[a] + hi[a];
            if (padded < eff)
                throw ShapeException.Of(op, $"along axis {a} the window spans {eff} elements{(Dilation[a] > 1 ? $" (size {Window[a]}, dilation {Dilation[a]})" : "")} but x padded has only {padded} ({n} + {lo[a]} + {hi[a]}); each window must fit in the padded input: use a smaller window, more padding or \"SAME\"", shapes);
            od[a] = (padded - eff) / s + 1;
        }
        return new WindowGeometry(this, dims, lo, hi, od);
    }

    /// <inheritdoc/>
    public override string ToString() => $"window {Eager.Dims(Window)}, strides {Eager.Dims(Strides)}, padding {PaddingText}, dilation {Eager.Dims(Dilation)}";
}

/// <summary>
/// A window resolved against an operand shape: the padding on each side, the output shape, and for each output position
/// the flat input offsets of its taps in row-major window order (-1 for a tap in the padding). All kernels walk the taps
/// in that order, so "the first maximum" means the same thing everywhere.
/// </summary>
internal sealed class WindowGeometry
{
    public readonly WindowParams P;
    public readonly int[] InDims, Lo, Hi, OutDims;
    public readonly int InSize, OutSize, Taps;
    readonly int[][] coord;
    readonly int[] inStride;

    public WindowGeometry(WindowParams p, int[] inDims, int[] lo, int[] hi, int[] outDims)
    {
        P = p; InDims = inDims; Lo = lo; Hi = hi; OutDims = outDims;
        InSize = Kernels.Product(inDims);
        AsPlane = PlaneOf(p, inDims, lo, hi, outDims);
        OutSize = Kernels.Product(outDims);
        Taps = p.Taps;
        int r = inDims.Length;
        inStride = new int[r];
        for (int a = r - 1, s = 1; a >= 0; s *= inDims[a], a--) inStride[a] = s;
        // coord[a][o * K + w]: the input coordinate of tap w of output position o along axis a, -1 in the padding
        coord = new int[r][];
        for (int a = 0; a < r; a++)
        {
            int k = p.Window[a];
            var c = coord[a] = new int[outDims[a] * k];
            for (int o = 0; o < outDims[a]; o++)
                for (int w = 0; w < k; w++)
                {
                    int i = o * p.Strides[a] + w * p.Dilation[a] - lo[a];
                    c[o * k + w] = i >= 0 && i < inDims[a] ? i : -1;
                }
        }
    }

    /// <summary>
    /// The window as a 2-D window over the last two axes (a 1-D window: height 1), the leading axes unpooled and folded
    /// into <c>L</c> planes; null when a leading axis is pooled. The kernels run direct loops over such planes (every
    /// CNN pool) and the general tap walk otherwise.
    /// </summary>
    public readonly Plane? AsPlane;

    /// <summary>A window over the last two axes: L planes of H x W in, OH x OW out; window, strides, low padding and dilation per axis.</summary>
    internal sealed record Plane(int L, int H, int W, int OH, int OW, int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW);

    static Plane? PlaneOf(WindowParams p, int[] inDims, int[] lo, int[] hi, int[] outDims)
    {
        int r = inDims.Length, first = Math.Max(0, r - 2);
        for (int a = 0; a < first; a++)
            if (p.Window[a] != 1 || p.Strides[a] != 1 || lo[a] != 0 || hi[a] != 0) return null;
        int l = Kernels.Product(inDims, 0, first);
        return r == 1
            ? new Plane(l, 1, inDims[0], 1, outDims[0], 1, p.Window[0], 1, p.Strides[0], 0, lo[0], 1, p.Dilation[0])
            : new Plane(l, inDims[r - 2], inDims[r - 1], outDims[r - 2], outDims[r - 1], p.Window[r - 2], p.Window[r - 1],
                p.Strides[r - 2], p.Strides[r - 1], lo[r - 2], lo[r - 1], p.Dilation[r - 2], p.Dilation[r - 1]);
    }

    /// <summary>Calls <paramref name="body"/> for each output position in row-major order with the flat input offsets of its taps (-1: padding).</summary>
    public void ForEach<TState>(ref TState state, WindowBody<TState> body)
    {
        int r = InDims.Length;
        var taps = new int[Taps];
        var o = new int[r];
        for (int flat = 0; flat < OutSize; flat++)
        {
            int n = 1;
            taps[0] = 0;
            for (int a = 0; a < r; a++)
            {
                int k = P.Window[a], st = inStride[a], baseIdx = o[a] * k;
                var row = coord[a];
                // expand in place from the end: entry i becomes entries i*k .. i*k+k-1 (positions >= i, so nothing unread is overwritten)
                for (int i = n - 1; i >= 0; i--)
                {
                    int old = taps[i];
                    for (int w = k - 1; w >= 0; w--)
                    {
                        int c = row[baseIdx + w];
                        taps[i * k + w] = old < 0 || c < 0 ? -1 : old + c * st;
                    }
                }
                n *= k;
            }
            body(ref state, flat, taps);
            for (int a = r - 1; a >= 0; a--)
            {
                if (++o[a] < OutDims[a]) break;
                o[a] = 0;
            }
        }
    }
}

/// <summary>The work done for one output position (see <see cref="WindowGeometry.ForEach"/>).</summary>
internal delegate void WindowBody<TState>(ref TState state, int output, int[] taps);

/// <summary>
/// The CPU kernels of the window primitives, on every number dtype the primitives take: the first maximum of each
/// window (its flat input index), max, sum and mean pools, and the derivative primitives (the tangent gathered at each
/// window's first maximum, the cotangent scattered there, and the transpose of the window sum).
/// </summary>
internal static class WindowKernels
{
    /// <summary>For each window, the flat input index of its first maximum in window order (-1 when a padding tap wins:
    /// every real element is below the padding value, or the window lies in the padding). The first NaN wins.</summary>
    public static int[] Argmax(Tensor x, WindowGeometry g) => x.DType switch
    {
        DType.Float64 => Argmax(x.Span<double>(), g, double.NegativeInfinity),
        DType.Float32 => Argmax(x.Span<float>(), g, float.NegativeInfinity),
        DType.Int32 => Argmax(x.Span<int>(), g, int.MinValue),
        DType.Int64 => Argmax(x.Span<long>(), g, long.MinValue),
        _ => Argmax(Eager.Data<float>(x), g, float.NegativeInfinity),
    };

    static int[] Argmax<T>(ReadOnlySpan<T> x, WindowGeometry g, T pad) where T : unmanaged, INumber<T>
    {
        var r = new int[g.OutSize];
        if (g.AsPlane is { } whole && PlaneInside(whole, x, r)) return r;
        if (g.AsPlane is { } q)
        {
            // the same walk as below, over planes: taps in row-major window order, a tap outside the plane is the padding
            int o = 0;
            for (int l = 0; l < q.L; l++)
            {
                int plane = l * q.H * q.W;
                for (int i = 0; i < q.OH; i++)
                    for (int j = 0; j < q.OW; j++, o++)
                    {
                        int best = -2;
                        T cur = pad;
                        for (int a = 0; a < q.KH; a++)
                        {
                            int y = i * q.SH + a * q.DH - q.PH;
                            for (int b = 0; b < q.KW; b++)
                            {
                                int xx = j * q.SW + b * q.DW - q.PW;
                                bool inside = (uint)y < (uint)q.H && (uint)xx < (uint)q.W;
                                int t = inside ? plane + y * q.W + xx : -1;
                                T v = inside ? x[t] : pad;
                                if (best == -2 || v > cur || T.IsNaN(v) && !T.IsNaN(cur)) { cur = v; best = t; }
                            }
                        }
                        r[o] = best;
                    }
            }
            return r;
        }
        var st = (X: x.ToArray(), R: r, Pad: pad);
        g.ForEach(ref st, static (ref (T[] X, int[] R, T Pad) s, int o, int[] taps) =>
        {
            int best = taps[0];
            T cur = best < 0 ? s.Pad : s.X[best];
            for (int w = 1; w < taps.Length && !T.IsNaN(cur); w++)
            {
                int t = taps[w];
                T v = t < 0 ? s.Pad : s.X[t];
                if (v > cur || T.IsNaN(v)) { cur = v; best = t; }
            }
            s.R[o] = best;
        });
        return r;
    }

    /// <summary>
    /// <see cref="Argmax"/> over planes whose windows all lie inside the plane (no padding tap): the geometry in locals,
    /// no bounds test per tap, and the 2x2 window of a CNN's pool unrolled. Returns false (nothing written) otherwise.
    /// </summary>
    static bool PlaneInside<T>(WindowGeometry.Plane q, ReadOnlySpan<T> x, int[] r) where T : unmanaged, INumber<T>
    {
        int L = q.L, H = q.H, W = q.W, OH = q.OH, OW = q.OW, KH = q.KH, KW = q.KW, SH = q.SH, SW = q.SW, DH = q.DH, DW = q.DW;
        if (q.PH != 0 || q.PW != 0 || OH == 0 || OW == 0 || (OH - 1) * SH + (KH - 1) * DH >= H || (OW - 1) * SW + (KW - 1) * DW >= W)
            return false;
        if (x.Length < L * H * W || r.Length < L * OH * OW) return false;
        ref T xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        int o = 0;
        bool two = KH == 2 && KW == 2 && DH == 1 && DW == 1;
        bool lanes = two && SW == 2 && OW >= 4 && typeof(T) == typeof(float) && Avx2.IsSupported;
        int j0 = lanes ? OW / 4 * 4 : 0;
        for (int l = 0; l < L; l++)
        {
            if (lanes) Pool2x2Lanes(ref Unsafe.As<T, float>(ref xr), l * H * W, W, SH, OH, OW, r, o);
            for (int i = 0; i < OH; i++)
            {
                int rowStart = l * H * W + i * SH * W;
                o += j0;
                for (int j = j0; j < OW; j++, o++)
                {
                    int t0 = rowStart + j * SW, best = t0;
                    T cur = System.Runtime.CompilerServices.Unsafe.Add(ref xr, t0);
                    if (two)
                    {
                        Take(ref xr, t0 + 1, ref cur, ref best);
                        Take(ref xr, t0 + W, ref cur, ref best);
                        Take(ref xr, t0 + W + 1, ref cur, ref best);
                    }
                    else
                        for (int a = 0; a < KH; a++)
                            for (int b = a == 0 ? 1 : 0; b < KW; b++)
                                Take(ref xr, t0 + a * DH * W + b * DW, ref cur, ref best);
                    r[o] = best;
                }
            }
        }
        return true;

        // the first maximum in window order; the first NaN wins
        static void Take(ref T xr, int t, ref T cur, ref int best)
        {
            T v = System.Runtime.CompilerServices.Unsafe.Add(ref xr, t);
            if (v > cur || T.IsNaN(v) && !T.IsNaN(cur)) { cur = v; best = t; }
        }
    }

    /// <summary>
    /// The 2x2, stride-2 windows of one plane, four at a time: each row's windows in groups of four (eight input columns
    /// of two input rows), two groups per vector (the next group may be on the next row, so 8x8 images fill vectors
    /// too), the rows split into even and odd columns (the four taps in window order), the first maximum kept by strict
    /// compares and blends (a NaN tap wins over a number, and the first NaN stays), its flat index written at r[o..].
    /// The last OW mod 4 windows of each row are left to the caller.
    /// </summary>
    static void Pool2x2Lanes(ref float x, int plane, int w, int sh, int oh, int ow, int[] r, int o)
    {
        int per = ow / 4, groups = oh * per;
        var lane = Vector256.Create(0, 2, 4, 6, 0, 2, 4, 6);
        var one = Vector256.Create(1);
        var down = Vector256.Create(w);
        var diag = Vector256.Create(w + 1);
        for (int gi = 0; gi < groups; gi += 2)
        {
            // group g: output row g / per, windows 4 (g mod per) .. + 3, input columns from 8 (g mod per)
            bool pair = gi + 1 < groups;
            int gj = pair ? gi + 1 : gi;
            int p = plane + gi / per * sh * w + 8 * (gi % per), q = plane + gj / per * sh * w + 8 * (gj % per);
            var (a0, a1) = Split(ref x, p, q);
            var (b0, b1) = Split(ref x, p + w, q + w);
            var cur = a0;
            var off = Vector256<int>.Zero;
            Take(ref cur, ref off, a1, one);
            Take(ref cur, ref off, b0, down);
            Take(ref cur, ref off, b1, diag);
            var idx = Vector256.Create(p, p, p, p, q, q, q, q) + lane + off;
            idx.GetLower().StoreUnsafe(ref r[o + gi / per * ow + 4 * (gi % per)]);
            if (pair) idx.GetUpper().StoreUnsafe(ref r[o + gj / per * ow + 4 * (gj % per)]);
        }

        // 8 elements at p then 8 at q as their even and odd columns, each in order
        static (Vector256<float> Even, Vector256<float> Odd) Split(ref float x, int p, int q)
        {
            var lo = Vector256.LoadUnsafe(ref x, (nuint)p);
            var hi = Vector256.LoadUnsafe(ref x, (nuint)q);
            var even = Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0x88).AsDouble(), 0xD8).AsSingle();
            var odd = Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0xDD).AsDouble(), 0xD8).AsSingle();
            return (even, odd);
        }

        // v replaces cur where it is greater, or NaN while cur is not
        static void Take(ref Vector256<float> cur, ref Vector256<int> off, Vector256<float> v, Vector256<int> at)
        {
            var take = Avx.Or(Avx.CompareGreaterThan(v, cur), Avx.AndNot(Avx.CompareUnordered(cur, cur), Avx.CompareUnordered(v, v)));
            cur = Avx.BlendVariable(cur, v, take);
            off = Avx.BlendVariable(off.AsSingle(), at.AsSingle(), take).AsInt32();
        }
    }

    /// <summary>The max pool: each window's first maximum (the padding value when a padding tap wins).</summary>
    public static Tensor Max(Tensor x, WindowGeometry g, Array? into = null)
    {
        if (DTypes.IsHalf(x.DType)) return Eager.ViaFloat32(x.DType, a => Max(a[0], g), x);
        var idx = Argmax(x, g);
        return x.DType switch
        {
            DType.Float64 => Pick(x.Span<double>(), idx, double.NegativeInfinity, g, x.IsWeak, into as double[]),
            DType.Float32 => Pick(x.Span<float>(), idx, float.NegativeInfinity, g, x.IsWeak, into as float[]),
            DType.Int32 => Pick(x.Span<int>(), idx, int.MinValue, g, x.IsWeak),
            _ => Pick(x.Span<long>(), idx, long.MinValue, g, x.IsWeak),
        };
    }

    static Tensor Pick<T>(ReadOnlySpan<T> x, int[] idx, T pad, WindowGeometry g, bool weak, T[]? into = null) where T : unmanaged
    {
        // every element is written: no clearing
        var r = into ?? GC.AllocateUninitializedArray<T>(idx.Length);
        for (int o = 0; o < r.Length; o++) r[o] = idx[o] < 0 ? pad : x[idx[o]];
        return Eager.Make(r, g.OutDims, weak);
    }

    /// <summary>The tangent <paramref name="t"/> (x's shape) gathered at each window's first maximum of <paramref name="x"/> (0 where the padding wins).</summary>
    public static Tensor Gather(Tensor t, Tensor x, WindowGeometry g)
    {
        if (!Eager.IsWide(t.DType)) return Eager.ViaWide(t.DType, a => Gather(a[0], x, g), t);
        var idx = Argmax(x, g);
        return t.DType == DType.Float64 ? Pick(t.Span<double>(), idx, 0.0, g, t.IsWeak) : Pick(t.Span<float>(), idx, 0f, g, t.IsWeak);
    }

    /// <summary>The cotangent <paramref name="ct"/> (the output's shape) added at each window's first maximum of <paramref name="x"/>, in zeros of x's shape.</summary>
    public static Tensor Scatter(Tensor ct, Tensor x, WindowGeometry g, Array? into = null)
    {
        if (!Eager.IsWide(ct.DType)) return Eager.ViaWide(ct.DType, a => Scatter(a[0], x, g), ct);
        var idx = Argmax(x, g);
        return ct.DType == DType.Float64 ? ScatterAt(ct.Span<double>(), idx, g, ct.IsWeak, into as double[]) : ScatterAt(ct.Span<float>(), idx, g, ct.IsWeak, into as float[]);
    }

    static Tensor ScatterAt<T>(ReadOnlySpan<T> ct, int[] idx, WindowGeometry g, bool weak, T[]? into = null) where T : unmanaged, INumber<T>
    {
        // the cotangents are added: a given buffer is cleared first
        var r = into ?? new T[g.InSize];
        if (into is not null) Array.Clear(r);
        for (int o = 0; o < idx.Length; o++) if (idx[o] >= 0) r[idx[o]] += ct[o];
        return Eager.Make(r, g.InDims, weak);
    }

    /// <summary>The sum pool (padding counts as 0); with <paramref name="mean"/>, divided by the number of taps.</summary>
    public static Tensor Sum(Tensor x, WindowGeometry g, bool mean)
    {
        if (DTypes.IsHalf(x.DType)) return Eager.ViaFloat32(x.DType, a => Sum(a[0], g, mean), x);
        return x.DType switch
        {
            DType.Float64 => SumOf(x.Span<double>(), g, mean, x.IsWeak),
            DType.Float32 => SumOf(x.Span<float>(), g, mean, x.IsWeak),
            DType.Int32 => SumOf(x.Span<int>(), g, false, x.IsWeak),
            _ => SumOf(x.Span<long>(), g, false, x.IsWeak),
        };
    }

    static Tensor SumOf<T>(ReadOnlySpan<T> x, WindowGeometry g, bool mean, bool weak) where T : unmanaged, INumber<T>
    {
        var r = new T[g.OutSize];
        if (g.AsPlane is { } q)
        {
            T n = T.CreateChecked(mean ? g.Taps : 1);
            int o = 0;
            for (int l = 0; l < q.L; l++)
            {
                int plane = l * q.H * q.W;
                for (int i = 0; i < q.OH; i++)
                    for (int j = 0; j < q.OW; j++, o++)
                    {
                        T acc = T.Zero;
                        for (int a = 0; a < q.KH; a++)
                        {
                            int y = i * q.SH + a * q.DH - q.PH;
                            if ((uint)y >= (uint)q.H) continue;
                            for (int b = 0; b < q.KW; b++)
                            {
                                int xx = j * q.SW + b * q.DW - q.PW;
                                if ((uint)xx < (uint)q.W) acc += x[plane + y * q.W + xx];
                            }
                        }
                        r[o] = acc / n;
                    }
            }
            return Eager.Make(r, g.OutDims, weak);
        }
        var st = (X: x.ToArray(), R: r, N: T.CreateChecked(mean ? g.Taps : 1));
        g.ForEach(ref st, static (ref (T[] X, T[] R, T N) s, int o, int[] taps) =>
        {
            T acc = T.Zero;
            foreach (int t in taps) if (t >= 0) acc += s.X[t];
            s.R[o] = acc / s.N;
        });
        return Eager.Make(r, g.OutDims, weak);
    }

    /// <summary>The transpose of the sum pool: each output's cotangent added at every real tap of its window, in zeros of x's shape.</summary>
    public static Tensor SumTranspose(Tensor ct, WindowGeometry g)
    {
        if (!Eager.IsWide(ct.DType) && !DTypes.IsInteger(ct.DType)) return Eager.ViaWide(ct.DType, a => SumTranspose(a[0], g), ct);
        return ct.DType switch
        {
            DType.Float64 => SumT(ct.Span<double>(), g, ct.IsWeak),
            DType.Float32 => SumT(ct.Span<float>(), g, ct.IsWeak),
            DType.Int32 => SumT(ct.Span<int>(), g, ct.IsWeak),
            _ => SumT(ct.Span<long>(), g, ct.IsWeak),
        };
    }

    static Tensor SumT<T>(ReadOnlySpan<T> ct, WindowGeometry g, bool weak) where T : unmanaged, INumber<T>
    {
        var r = new T[g.InSize];
        if (g.AsPlane is { } q)
        {
            int o = 0;
            for (int l = 0; l < q.L; l++)
            {
                int plane = l * q.H * q.W;
                for (int i = 0; i < q.OH; i++)
                    for (int j = 0; j < q.OW; j++, o++)
                    {
                        T v = ct[o];
                        for (int a = 0; a < q.KH; a++)
                        {
                            int y = i * q.SH + a * q.DH - q.PH;
                            if ((uint)y >= (uint)q.H) continue;
                            for (int b = 0; b < q.KW; b++)
                            {
                                int xx = j * q.SW + b * q.DW - q.PW;
                                if ((uint)xx < (uint)q.W) r[plane + y * q.W + xx] += v;
                            }
                        }
                    }
            }
            return Eager.Make(r, g.InDims, weak);
        }
        var st = (C: ct.ToArray(), R: r);
        g.ForEach(ref st, static (ref (T[] C, T[] R) s, int o, int[] taps) =>
        {
            T v = s.C[o];
            foreach (int t in taps) if (t >= 0) s.R[t] += v;
        });
        return Eager.Make(r, g.InDims, weak);
    }

    internal static string Text(int v) => v.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// The eager methods of the window primitives (what their nodes emit, and what the public <c>Lax</c>/<c>Np</c> pooling
/// methods run): the dtype and shape checks, then the kernels. Their <c>op</c> argument names the public call in errors.
/// </summary>
internal static class WindowOps
{
    static void Number(string op, Tensor x, string name, WindowParams p)
    {
        if (x.DType == DType.Bool)
            throw ShapeException.Of(op, $"{name} is a bool tensor; pooling takes number tensors (convert with AsType)", (name, x.Aval));
    }

    static WindowGeometry Geometry(string op, Tensor x, WindowParams p)
    {
        ArgumentNullException.ThrowIfNull(x);
        Number(op, x, "x", p);
        return p.Resolve(op, x.Aval);
    }

    /// <summary>The max pool.</summary>
    public static Tensor Max(Tensor x, WindowParams p, string op) => WindowKernels.Max(x, Geometry(op, x, p));

    /// <summary>The max pool, named by the primitive.</summary>
    public static Tensor Max(Tensor x, WindowParams p) => Max(x, p, "Lax.ReduceWindowMax");

    /// <summary>The max pool written into <paramref name="into"/> (the CPU jit's buffer for it: float32 or float64, the result's size).</summary>
    public static Tensor MaxInto(Tensor x, WindowParams p, Array into) => WindowKernels.Max(x, Geometry("Lax.ReduceWindowMax", x, p), into);

    /// <summary>The cotangent added at each window's first maximum, written into <paramref name="into"/> (see <see cref="MaxInto"/>).</summary>
    public static Tensor SelectAndScatterAddInto(Tensor ct, Tensor x, WindowParams p, Array into)
    {
        const string op = "Lax.SelectAndScatterAdd";
        Number(op, ct, "ct", p);
        Number(op, x, "x", p);
        var g = p.Resolve(op, x.Aval, ("ct", ct.Aval));
        if (!SmallArrays.Same(ct.Dims, g.OutDims))
            throw ShapeException.Of(op, $"ct must have the pool's output shape {Eager.Dims(g.OutDims)}", ("ct", ct.Aval), ("x", x.Aval));
        return WindowKernels.Scatter(ct, x, g, into);
    }

    /// <summary>The sum pool.</summary>
    public static Tensor Sum(Tensor x, WindowParams p, string op) => WindowKernels.Sum(x, Geometry(op, x, p), mean: false);

    /// <summary>The sum pool, named by the primitive.</summary>
    public static Tensor Sum(Tensor x, WindowParams p) => Sum(x, p, "Lax.ReduceWindowSum");

    /// <summary>The mean pool (float dtypes).</summary>
    public static Tensor Mean(Tensor x, WindowParams p, string op)
    {
        var g = Geometry(op, x, p);
        if (!DTypes.IsFloat(x.DType))
            throw ShapeException.Of(op, $"the mean pool takes float tensors, not {DTypes.Name(x.DType)}; convert with AsType(DType.Float32), or use the sum pool (exact on integers)", ("x", x.Aval));
        return WindowKernels.Sum(x, g, mean: true);
    }

    /// <summary>The mean pool, named by the primitive.</summary>
    public static Tensor Mean(Tensor x, WindowParams p) => Mean(x, p, "Lax.ReduceWindowMean");

    /// <summary>The tangent at each window's first maximum.</summary>
    public static Tensor SelectAndGather(Tensor t, Tensor x, WindowParams p, string op)
    {
        ArgumentNullException.ThrowIfNull(t);
        ArgumentNullException.ThrowIfNull(x);
        Number(op, t, "t", p);
        Number(op, x, "x", p);
        var g = p.Resolve(op, x.Aval, ("t", t.Aval));
        if (!SmallArrays.Same(t.Dims, x.Dims))
            throw ShapeException.Of(op, $"t must have x's shape {Eager.Dims(x.Dims)} (it is x's tangent)", ("t", t.Aval), ("x", x.Aval));
        return WindowKernels.Gather(t, x, g);
    }

    /// <summary>The tangent at each window's first maximum, named by the primitive.</summary>
    public static Tensor SelectAndGather(Tensor t, Tensor x, WindowParams p) => SelectAndGather(t, x, p, "Lax.SelectAndGather");

    /// <summary>The cotangent added at each window's first maximum.</summary>
    public static Tensor SelectAndScatterAdd(Tensor ct, Tensor x, WindowParams p, string op)
    {
        ArgumentNullException.ThrowIfNull(ct);
        ArgumentNullException.ThrowIfNull(x);
        Number(op, ct, "ct", p);
        Number(op, x, "x", p);
        var g = p.Resolve(op, x.Aval, ("ct", ct.Aval));
        if (!SmallArrays.Same(ct.Dims, g.OutDims))
            throw ShapeException.Of(op, $"ct must have the pool's output shape {Eager.Dims(g.OutDims)}", ("ct", ct.Aval), ("x", x.Aval));
        return WindowKernels.Scatter(ct, x, g);
    }

    /// <summary>The cotangent added at each window's first maximum, named by the primitive.</summary>
    public static Tensor SelectAndScatterAdd(Tensor ct, Tensor x, WindowParams p) => SelectAndScatterAdd(ct, x, p, "Lax.SelectAndScatterAdd");

    /// <summary>The transpose of the sum pool.</summary>
    public static Tensor SumTranspose(Tensor ct, Aval x, WindowParams p, string op)
    {
        ArgumentNullException.ThrowIfNull(ct);
        ArgumentNullException.ThrowIfNull(x);
        Number(op, ct, "ct", p);
        var g = p.Resolve(op, x, ("ct", ct.Aval));
        if (!SmallArrays.Same(ct.Dims, g.OutDims))
            throw ShapeException.Of(op, $"ct must have the pool's output shape {Eager.Dims(g.OutDims)}", ("ct", ct.Aval), ("x", x));
        return WindowKernels.SumTranspose(ct, g);
    }

    /// <summary>The transpose of the sum pool, named by the primitive.</summary>
    public static Tensor SumTranspose(Tensor ct, Aval x, WindowParams p) => SumTranspose(ct, x, p, "Lax.ReduceWindowSumTranspose");
}
