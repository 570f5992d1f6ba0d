using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD;

/// <summary>
/// The static parameters of a convolution (JAX's <c>conv_general_dilated</c>), shared by the three slots of the
/// convolution family (<see cref="Prims.Conv"/> and its two transposes), which keep them unchanged through every
/// derivative. Arrays have one entry per spatial axis (1, 2 or 3); <see cref="Padding"/> holds (low, high) pairs, one
/// pair per spatial axis, unless <see cref="PadMode"/> names "SAME" or "VALID" (resolved once shapes are known, as
/// <c>lax.padtype_to_pads</c> does). <see cref="OutputPadding"/> is only read by a transposed convolution written
/// by a user (<c>Np.ConvTranspose2d</c>), which has no operand giving its result's shape. Compared by content, so
/// equal convolutions are one node.
/// </summary>
internal sealed record ConvParams(int[] Strides, int[]? Padding, string? PadMode, int[] LhsDilation, int[] RhsDilation,
    int FeatureGroups, int BatchGroups, bool ChannelsLast, int[]? OutputPadding = null)
{
    /// <summary>Number of spatial axes.</summary>
    public int Spatial => Strides.Length;

    public bool Equals(ConvParams? o) => o is not null && SmallArrays.Same(Strides, o.Strides) && SmallArrays.Same(Padding, o.Padding) && PadMode == o.PadMode
        && SmallArrays.Same(LhsDilation, o.LhsDilation) && SmallArrays.Same(RhsDilation, o.RhsDilation) && FeatureGroups == o.FeatureGroups
        && BatchGroups == o.BatchGroups && ChannelsLast == o.ChannelsLast && SmallArrays.Same(OutputPadding, o.OutputPadding);

    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var a in new[] { Strides, Padding, LhsDilation, RhsDilation, OutputPadding })
        {
            h.Add(a?.Length ?? -1);
            if (a is not null) foreach (var v in a) h.Add(v);
        }
        h.Add(PadMode); h.Add(FeatureGroups); h.Add(BatchGroups); h.Add(ChannelsLast);
        return h.ToHashCode();
    }

    /// <summary>The same convolution in channels-first layout (NCHW, OIHW).</summary>
    public ConvParams ChannelsFirst => ChannelsLast ? this with { ChannelsLast = false } : this;

    // ---------------------------------------------------------------- the parameters of each public spelling
    // (the reader maps a call of Lax.Conv, Np.Conv2d, ... to these by the method's name and static argument types)

    static int[] Ones(int d) => Enumerable.Repeat(1, d).ToArray();
    static int[] Rep(int v, int d) => Enumerable.Repeat(v, d).ToArray();

    static int[] Checked(int[]? a, int d, string name, int min)
    {
        if (a is null) return Ones(d);
        if (a.Length != d) throw new ArgumentException($"{name} has {a.Length} entries, but the convolution has {d} spatial axes (one entry per spatial axis)", name);
        foreach (var v in a) if (v < min) throw new ArgumentOutOfRangeException(name, v, $"every entry of {name} must be at least {min}");
        return (int[])a.Clone();
    }

    static int CheckedCount(int n, string name) => n >= 1 ? n : throw new ArgumentOutOfRangeException(name, n, $"{name} must be at least 1");

    static int Dims(int[] windowStrides) =>
        windowStrides is { Length: >= 1 and <= 3 } ? windowStrides.Length
        : throw new ArgumentException($"windowStrides must have 1, 2 or 3 entries (one per spatial axis), not {windowStrides?.Length.ToString() ?? "null"}", nameof(windowStrides));

    internal static ConvParams Conv(int[] windowStrides, string padding, int[]? lhsDilation, int[]? rhsDilation, int featureGroupCount, int batchGroupCount, ConvLayout layout)
    {
        int d = Dims(windowStrides);
        var mode = padding?.ToUpperInvariant() switch
        {
            "SAME" => "SAME",
            "VALID" => "VALID",
            _ => throw new ArgumentException($"padding \"{padding}\" is not a padding: give \"SAME\", \"VALID\" or (low, high) pairs as an int[] of {2 * d} entries", nameof(padding)),
        };
        return Make(d, windowStrides, null, mode, lhsDilation, rhsDilation, featureGroupCount, batchGroupCount, layout);
    }

    internal static ConvParams Conv(int[] windowStrides, int[] padding, int[]? lhsDilation, int[]? rhsDilation, int featureGroupCount, int batchGroupCount, ConvLayout layout)
    {
        int d = Dims(windowStrides);
        if (padding is null || padding.Length != 2 * d)
            throw new ArgumentException($"padding must hold a (low, high) pair per spatial axis: {2 * d} entries, not {padding?.Length.ToString() ?? "null"}", nameof(padding));
        return Make(d, windowStrides, (int[])padding.Clone(), null, lhsDilation, rhsDilation, featureGroupCount, batchGroupCount, layout);
    }

    static ConvParams Make(int d, int[] windowStrides, int[]? pads, string? mode, int[]? lhsDilation, int[]? rhsDilation, int fg, int bg, ConvLayout layout)
    {
        CheckedCount(fg, "featureGroupCount");
        CheckedCount(bg, "batchGroupCount");
        if (fg > 1 && bg > 1)
            throw new ArgumentException($"featureGroupCount ({fg}) and batchGroupCount ({bg}) cannot both exceed 1 (as in XLA)", nameof(bg));
        return new ConvParams(Checked(windowStrides, d, "windowStrides", 1), pads, mode, Checked(lhsDilation, d, "lhsDilation", 1), Checked(rhsDilation, d, "rhsDilation", 1),
            fg, bg, layout == ConvLayout.ChannelsLast);
    }

    internal static ConvParams ConvTransposeLhs(int[] windowStrides, int[] padding, int[]? outputPadding, int[]? rhsDilation, int featureGroupCount, ConvLayout layout)
    {
        var p = Conv(windowStrides, padding, null, rhsDilation, featureGroupCount, 1, layout);
        var op = outputPadding is null ? new int[p.Spatial] : Checked(outputPadding, p.Spatial, "outputPadding", 0);
        for (int i = 0; i < op.Length; i++)
            if (op[i] >= p.Strides[i])
                throw new ArgumentOutOfRangeException(nameof(outputPadding), op[i], $"outputPadding[{i}] must be less than the stride ({p.Strides[i]}): it selects one of the input sizes that the strided convolution maps to the same output size");
        return p with { OutputPadding = op };
    }

    /// <summary>PyTorch's Conv1d/2d/3d: one stride, padding and dilation for every spatial axis, groups of channels.</summary>
    internal static ConvParams Torch(int d, int stride, int padding, int dilation, int groups)
    {
        if (padding < 0) throw new ArgumentOutOfRangeException(nameof(padding), padding, "padding must be at least 0");
        return Make(d, Rep(CheckedCount(stride, "stride"), d), Rep(padding, 2 * d), null, null, Rep(CheckedCount(dilation, "dilation"), d), groups, 1, ConvLayout.ChannelsFirst);
    }

    /// <summary>PyTorch's ConvTranspose1d/2d: the transposed convolution of a convolution with these parameters.</summary>
    internal static ConvParams TorchTranspose(int d, int stride, int padding, int outputPadding, int dilation, int groups)
    {
        if (padding < 0) throw new ArgumentOutOfRangeException(nameof(padding), padding, "padding must be at least 0");
        return ConvTransposeLhs(Rep(CheckedCount(stride, "stride"), d), Rep(padding, 2 * d), Rep(outputPadding, d), Rep(CheckedCount(dilation, "dilation"), d), groups, ConvLayout.ChannelsFirst);
    }

    /// <summary>The parameters of a call of one of the convolution family's C# spellings (see <see cref="Prims.ReadsAs"/>).</summary>
    internal static Params OfCall(MethodInfo m, object?[] s)
    {
        if (s.Length == 1 && s[0] is ConvParams own) return new Params(own);
        int I(int i) => (int)s[i]!;
        int[]? A(int i) => (int[]?)s[i];
        ConvLayout L(int i) => (ConvLayout)s[i]!;
        int d = m.Name.EndsWith("1d", StringComparison.Ordinal) ? 1 : m.Name.EndsWith("2d", StringComparison.Ordinal) ? 2 : m.Name.EndsWith("3d", StringComparison.Ordinal) ? 3 : 0;
        ConvParams p = (m.Name, s.Length) switch
        {
            ("Conv" or "ConvTransposeRhs" or "ConvTransposeLhs", 7) when s[1] is string mode => Conv(A(0)!, mode, A(2), A(3), I(4), I(5), L(6)),
            ("Conv" or "ConvTransposeRhs" or "ConvTransposeLhs", 7) => Conv(A(0)!, A(1)!, A(2), A(3), I(4), I(5), L(6)),
            ("ConvTransposeLhs", 6) => ConvTransposeLhs(A(0)!, A(1)!, A(2), A(3), I(4), L(5)),
            (_, 0) when m.Name.StartsWith("ConvTranspose", StringComparison.Ordinal) => TorchTranspose(d, 1, 0, 0, 1, 1),
            (_, 2) when m.Name.StartsWith("ConvTranspose", StringComparison.Ordinal) => TorchTranspose(d, I(0), I(1), 0, 1, 1),
            (_, 5) when m.Name.StartsWith("ConvTranspose", StringComparison.Ordinal) => TorchTranspose(d, I(0), I(1), I(2), I(3), I(4)),
            (_, 0) => Torch(d, 1, 0, 1, 1),
            (_, 2) => Torch(d, I(0), I(1), 1, 1),
            (_, 4) => Torch(d, I(0), I(1), I(2), I(3)),
            _ => throw new InvalidOperationException($"Internal error: {m.DeclaringType?.Name}.{m.Name} with {s.Length} static arguments is not a convolution spelling."),
        };
        return new Params(p);
    }

    /// <summary>Named arguments of <c>Lax.Conv</c> that differ from their defaults, as C# (for printing).</summary>
    internal string Text(bool withPadding = true)
    {
        var parts = new List<string> { $"windowStrides: {Printer.Literal(Strides)}" };
        if (withPadding) parts.Add($"padding: {(PadMode is { } mode ? Printer.Literal(mode) : Printer.Literal(Padding!))}");
        if (LhsDilation.Any(v => v != 1)) parts.Add($"lhsDilation: {Printer.Literal(LhsDilation)}");
        if (RhsDilation.Any(v => v != 1)) parts.Add($"rhsDilation: {Printer.Literal(RhsDilation)}");
        if (FeatureGroups != 1) parts.Add($"featureGroupCount: {FeatureGroups}");
        if (BatchGroups != 1) parts.Add($"batchGroupCount: {BatchGroups}");
        if (ChannelsLast) parts.Add("layout: ConvLayout.ChannelsLast");
        return string.Join(", ", parts);
    }
}

/// <summary>
/// The geometry of a convolution: layouts, padding and the shape rule with its checks. Dimensions are channels-first
/// (lhs <c>[N, C, spatial...]</c>, rhs <c>[O, I, spatial...]</c>, out <c>[N / batchGroups, O, spatial...]</c>) after
/// <see cref="ToFirst"/>.
/// </summary>
internal static class ConvShape
{
    /// <summary>The permutation taking a channels-last lhs or output (<c>[N, spatial..., C]</c>) to channels-first.</summary>
    public static int[] DataToFirst(int rank) => [0, rank - 1, .. Enumerable.Range(1, rank - 2)];
    /// <summary>The permutation taking channels-first data back to channels-last.</summary>
    public static int[] DataToLast(int rank) => [0, .. Enumerable.Range(2, rank - 2), 1];
    /// <summary>The permutation taking a channels-last kernel (<c>[spatial..., I, O]</c>, HWIO) to OIHW.</summary>
    public static int[] KernelToFirst(int rank) => [rank - 1, rank - 2, .. Enumerable.Range(0, rank - 2)];
    /// <summary>The permutation taking an OIHW kernel back to HWIO.</summary>
    public static int[] KernelToLast(int rank) => [.. Enumerable.Range(2, rank - 2), 1, 0];

    public static int[] Permute(int[] dims, int[] perm) => perm.Select(i => dims[i]).ToArray();

    /// <summary>Dims of a role (0 lhs, 1 rhs, 2 out) in channels-first order.</summary>
    public static int[] ToFirst(int[] dims, int role, bool channelsLast) =>
        !channelsLast || dims.Length < 3 ? dims : Permute(dims, role == 1 ? KernelToFirst(dims.Length) : DataToFirst(dims.Length));

    public static int[] FromFirst(int[] dims, int role, bool channelsLast) =>
        !channelsLast || dims.Length < 3 ? dims : Permute(dims, role == 1 ? KernelToLast(dims.Length) : DataToLast(dims.Length));

    /// <summary>The (low, high) padding of each spatial axis, given the lhs and kernel spatial sizes (SAME as JAX: the
    /// output has ceil(x / stride) positions, the low side gets the smaller half).</summary>
    public static (int[] Lo, int[] Hi) Pads(ConvParams p, int[] x, int[] k)
    {
        int d = p.Spatial;
        var lo = new int[d];
        var hi = new int[d];
        for (int i = 0; i < d; i++)
        {
            if (p.PadMode == "VALID") continue;
            if (p.PadMode == "SAME")
            {
                int kd = (k[i] - 1) * p.RhsDilation[i] + 1;
                int o = (x[i] + p.Strides[i] - 1) / p.Strides[i];
                int total = Math.Max((o - 1) * p.Strides[i] + kd - x[i], 0);
                lo[i] = total / 2;
                hi[i] = total - lo[i];
            }
            else { lo[i] = p.Padding![2 * i]; hi[i] = p.Padding[2 * i + 1]; }
        }
        return (lo, hi);
    }

    /// <summary>
    /// The output dims (channels-first) of a convolution of lhs <paramref name="x"/> with kernel <paramref name="w"/>
    /// (both channels-first), or a <see cref="ShapeException"/> naming <paramref name="op"/> and saying what is accepted.
    /// </summary>
    public static int[] Out(string op, ConvParams p, int[] x, int[] w, Aval[] shapes)
    {
        int d = p.Spatial, r = d + 2;
        ShapeException Bad(string detail) => new(op, shapes, detail);
        string layout = p.ChannelsLast ? (d switch { 1 => "lhs [N, W, C] and rhs [W, I, O]", 2 => "lhs [N, H, W, C] and rhs [H, W, I, O]", _ => "lhs [N, D, H, W, C] and rhs [D, H, W, I, O]" })
            : (d switch { 1 => "lhs [N, C, W] and rhs [O, I, W]", 2 => "lhs [N, C, H, W] and rhs [O, I, H, W]", _ => "lhs [N, C, D, H, W] and rhs [O, I, D, H, W]" });
        if (x.Length != r || w.Length != r)
            throw Bad($"a {d}-D convolution takes rank-{r} operands ({layout}), not ranks {x.Length} and {w.Length}");
        int n = x[0], c = x[1], o = w[0], i = w[1];
        int fg = p.FeatureGroups, bg = p.BatchGroups;
        if (c != i * fg)
            throw Bad(fg == 1 ? $"the lhs has {c} input channels but the kernel takes {i} (its I axis); they must be equal"
                : $"the lhs has {c} input channels but the kernel takes {i} per group with featureGroupCount {fg} ({i * fg} in all); they must be equal");
        if (o % fg != 0) throw Bad($"the kernel's {o} output channels do not divide into featureGroupCount {fg} groups");
        if (o % bg != 0) throw Bad($"the kernel's {o} output channels do not divide into batchGroupCount {bg} groups");
        if (n % bg != 0) throw Bad($"the lhs batch {n} does not divide into batchGroupCount {bg} groups");
        var (lo, hi) = Pads(p, x[2..], w[2..]);
        var y = new int[r];
        y[0] = n / bg;
        y[1] = o;
        for (int a = 0; a < d; a++)
        {
            long xd = x[2 + a] == 0 ? 0 : (long)(x[2 + a] - 1) * p.LhsDilation[a] + 1;
            long kd = (long)(w[2 + a] - 1) * p.RhsDilation[a] + 1;
            long padded = xd + lo[a] + hi[a];
            if (w[2 + a] < 1) throw Bad($"the kernel's spatial axis {a} is empty");
            if (padded < kd)
                throw Bad($"along spatial axis {a} the window ({w[2 + a]} taps, {kd} wide with rhs dilation {p.RhsDilation[a]}) is larger than the padded input ({x[2 + a]} wide, {padded} after lhs dilation {p.LhsDilation[a]} and padding ({lo[a]}, {hi[a]})); pad it or use a smaller kernel");
            y[2 + a] = (int)((padded - kd) / p.Strides[a] + 1);
        }
        return y;
    }

    /// <summary>The lhs dims (channels-first) of a transposed convolution written without the lhs's shape (<c>Np.ConvTranspose2d</c>).</summary>
    public static int[] TransposedLhs(string op, ConvParams p, int[] y, int[] w, Aval[] shapes)
    {
        int d = p.Spatial, r = d + 2;
        if (y.Length != r || w.Length != r)
            throw new ShapeException(op, shapes, $"a {d}-D transposed convolution takes rank-{r} operands (input [N, C_in, spatial...], kernel [C_in, C_out / groups, spatial...]), not ranks {y.Length} and {w.Length}");
        if (y[1] != w[0])
            throw new ShapeException(op, shapes, $"the input has {y[1]} channels but the kernel's first axis (C_in) is {w[0]}; they must be equal");
        if (w[0] % p.FeatureGroups != 0)
            throw new ShapeException(op, shapes, $"the kernel's {w[0]} input channels do not divide into {p.FeatureGroups} groups");
        var x = new int[r];
        x[0] = y[0];
        x[1] = w[1] * p.FeatureGroups;
        for (int a = 0; a < d; a++)
        {
            int kd = (w[2 + a] - 1) * p.RhsDilation[a] + 1;
            x[2 + a] = (y[2 + a] - 1) * p.Strides[a] + kd - p.Padding![2 * a] - p.Padding[2 * a + 1] + p.OutputPadding![a];
            if (x[2 + a] < 1)
                throw new ShapeException(op, shapes, $"along spatial axis {a} the output would have {x[2 + a]} positions: the padding ({p.Padding[2 * a]}) is too large for this input and kernel");
        }
        return x;
    }

    /// <summary>The dtype of a convolution of these operands: their promoted float dtype, or a <see cref="ShapeException"/>.</summary>
    public static DType DTypeOf(string op, Aval a, Aval b, Aval[] shapes)
    {
        var (dt, _) = DTypes.Promote(a.DType, a.Weak, b.DType, b.Weak);
        if (!DTypes.IsFloat(dt))
            throw new ShapeException(op, shapes, $"convolutions take float tensors (float32, float64, float16, bfloat16), not {dt}; convert with AsType(DType.Float32)");
        return dt;
    }

    static string Call(string name, ConvParams p, params (string Name, Aval A)[] args) =>
        $"{name}({string.Join(", ", args.Select(a => $"{a.Name}: {a.A}"))}, {p.Text()})";

    /// <summary>The aval of <c>Lax.Conv(lhs, rhs)</c>, checked.</summary>
    public static Aval Conv(ConvParams p, Aval lhs, Aval rhs)
    {
        var shapes = new[] { lhs, rhs };
        string op = Call("Lax.Conv", p, ("lhs", lhs), ("rhs", rhs));
        var dt = DTypeOf(op, lhs, rhs, shapes);
        var y = Out(op, p, ToFirst(lhs.Dims, 0, p.ChannelsLast), ToFirst(rhs.Dims, 1, p.ChannelsLast), shapes);
        return new Aval(FromFirst(y, 2, p.ChannelsLast), dt);
    }

    /// <summary>The aval of the lhs cotangent <c>Lax.ConvTransposeLhs(ct, rhs, lhs)</c> (or, without <paramref name="lhs"/>, of a transposed convolution), checked.</summary>
    public static Aval TransposeLhs(ConvParams p, Aval ct, Aval rhs, Aval? lhs)
    {
        var shapes = lhs is null ? new[] { ct, rhs } : new[] { ct, rhs, lhs };
        string op = lhs is null ? $"Lax.ConvTransposeLhs(ct: {ct}, rhs: {rhs}, {p.Text()}, outputPadding: {Printer.Literal(p.OutputPadding ?? [])})"
            : Call("Lax.ConvTransposeLhs", p, ("ct", ct), ("rhs", rhs), ("lhs", lhs));
        var dt = DTypeOf(op, ct, rhs, shapes);
        var w = ToFirst(rhs.Dims, 1, p.ChannelsLast);
        var g = ToFirst(ct.Dims, 2, p.ChannelsLast);
        int[] x;
        if (lhs is null) x = TransposedLhs(op, p, g, w, shapes);
        else
        {
            x = ToFirst(lhs.Dims, 0, p.ChannelsLast);
            CheckCotangent(op, Out(op, p, x, w, shapes), g, shapes);
        }
        return new Aval(FromFirst(x, 0, p.ChannelsLast), dt);
    }

    /// <summary>The aval of the kernel cotangent <c>Lax.ConvTransposeRhs(lhs, ct, rhs)</c>, checked.</summary>
    public static Aval TransposeRhs(ConvParams p, Aval lhs, Aval ct, Aval rhs)
    {
        var shapes = new[] { lhs, ct, rhs };
        string op = Call("Lax.ConvTransposeRhs", p, ("lhs", lhs), ("ct", ct), ("rhs", rhs));
        var dt = DTypeOf(op, lhs, ct, shapes);
        var w = ToFirst(rhs.Dims, 1, p.ChannelsLast);
        CheckCotangent(op, Out(op, p, ToFirst(lhs.Dims, 0, p.ChannelsLast), w, shapes), ToFirst(ct.Dims, 2, p.ChannelsLast), shapes);
        return new Aval(rhs.Dims, dt);
    }

    static void CheckCotangent(string op, int[] y, int[] g, Aval[] shapes)
    {
        if (!SmallArrays.Same(y, g))
            throw new ShapeException(op, shapes, $"the cotangent has shape [{string.Join(",", g)}] (channels-first) but the convolution's output has shape [{string.Join(",", y)}]; they must be equal");
    }
}

internal static partial class Prims
{
    /// <summary>
    /// <c>Lax.Conv(lhs, rhs, ...)</c>: JAX's <c>conv_general_dilated</c>, bilinear in its two operands; params: one
    /// <see cref="ConvParams"/>. Its two transposes are the other slots of the family, as <c>DotTA</c>/<c>DotTB</c> are
    /// Dot's, so derivatives of any order stay in the family.
    /// </summary>
    public static Primitive Conv { get { if (conv is null) Vocabulary.Ensure(); return conv!; } private set => conv = value; }
    static Primitive? conv;
    /// <summary><c>Lax.ConvTransposeLhs(ct, rhs, lhsAval)</c>: the cotangent of Conv's lhs (with no aval operand: a transposed convolution, <c>Np.ConvTranspose2d</c>).</summary>
    public static Primitive ConvTransposeLhs { get { if (convTransposeLhs is null) Vocabulary.Ensure(); return convTransposeLhs!; } private set => convTransposeLhs = value; }
    static Primitive? convTransposeLhs;
    /// <summary><c>Lax.ConvTransposeRhs(lhs, ct, rhsAval)</c>: the cotangent of Conv's kernel.</summary>
    public static Primitive ConvTransposeRhs { get { if (convTransposeRhs is null) Vocabulary.Ensure(); return convTransposeRhs!; } private set => convTransposeRhs = value; }
    static Primitive? convTransposeRhs;

    /// <summary>Declares the convolution family (first of the vocabulary, so that its primitives are in the table before the checks that walk it).</summary>
    static void DeclareConvolutions()
    {
        var cp = typeof(ConvParams);
        var ops = typeof(ConvOps);
        var aliases = typeof(Lax).GetMethods().Where(m => m.Name == nameof(Lax.Conv))
            .Concat(typeof(Np).GetMethods().Where(m => m.Name is nameof(Np.Conv1d) or nameof(Np.Conv2d) or nameof(Np.Conv3d))).ToArray();
        Conv = ConvSlot("Conv", ops.GetMethod(nameof(ConvOps.Conv), [T, T, cp])!, aliases,
            (c, t) => Sum2(t[0] is null ? null : ConvAp(Conv, c, t[0]!, c.X[1]), t[1] is null ? null : ConvAp(Conv, c, c.X[0], t[1]!)),
            (c, ct) => [c.Linear[0] ? Own(c, 0, ConvAp(ConvTransposeLhs, c, ct, c.X[1], c.Aval(0))) : null,
                        c.Linear[1] ? Own(c, 1, ConvAp(ConvTransposeRhs, c, c.X[0], ct, c.Aval(1))) : null],
            (p, a) => ConvShape.Conv(p, a[0], a[1]));

        var lhsT = typeof(Lax).GetMethods().Where(m => m.Name == nameof(Lax.ConvTransposeLhs))
            .Concat(typeof(Np).GetMethods().Where(m => m.Name is nameof(Np.ConvTranspose1d) or nameof(Np.ConvTranspose2d))).ToArray();
        var withAval = ops.GetMethod(nameof(ConvOps.ConvTransposeLhs), [T, T, A, cp])!;
        var noAval = ops.GetMethod(nameof(ConvOps.ConvTransposeLhs), [T, T, cp])!;
        // the lhs cotangent x̄ = ConvTransposeLhs(ȳ, w): <Conv(x, w), ȳ> = <x, x̄>, so its transposes are Conv (in ȳ) and ConvTransposeRhs (in w)
        ConvTransposeLhs = ConvSlot("ConvTransposeLhs", withAval, [noAval, .. lhsT],
            (c, t) => Sum2(t[0] is null ? null : ConvAp(ConvTransposeLhs, c, [t[0]!, c.X[1], .. c.X.Skip(2)]), t[1] is null ? null : ConvAp(ConvTransposeLhs, c, [c.X[0], t[1]!, .. c.X.Skip(2)])),
            (c, ct) => [c.Linear[0] ? Own(c, 0, ConvAp(Conv, c, ct, c.X[1])) : null,
                        c.Linear[1] ? Own(c, 1, ConvAp(ConvTransposeRhs, c, ct, c.X[0], c.Aval(1))) : null, .. c.X.Skip(2).Select(_ => (V?)null)],
            (p, a) => ConvShape.TransposeLhs(p, a[0], a[1], a.Length > 2 ? a[2] : null));
        ConvTransposeLhs.EmitRule = (a, k, prm, _) => Primitive.CallWith(a.Length > 2 ? withAval : noAval, a, prm);

        // the kernel cotangent w̄ = ConvTransposeRhs(x, ȳ): <Conv(x, w), ȳ> = <w, w̄>, so its transposes are ConvTransposeLhs (in x) and Conv (in ȳ)
        ConvTransposeRhs = ConvSlot("ConvTransposeRhs", ops.GetMethod(nameof(ConvOps.ConvTransposeRhs), [T, T, A, cp])!, typeof(Lax).GetMethods().Where(m => m.Name == nameof(Lax.ConvTransposeRhs)).ToArray(),
            (c, t) => Sum2(t[0] is null ? null : ConvAp(ConvTransposeRhs, c, t[0]!, c.X[1], c.X[2]), t[1] is null ? null : ConvAp(ConvTransposeRhs, c, c.X[0], t[1]!, c.X[2])),
            (c, ct) => [c.Linear[0] ? Own(c, 0, ConvAp(ConvTransposeLhs, c, c.X[1], ct, c.Aval(0))) : null,
                        c.Linear[1] ? Own(c, 1, ConvAp(Conv, c, c.X[0], ct)) : null, null],
            (p, a) => ConvShape.TransposeRhs(p, a[0], a[1], a[2]));

        // the CPU jit hands the kernels their result's buffer (the per-call arena for an intermediate)
        Conv.Cpu!.Into = (x, prm, into) => ConvOps.Conv((Tensor)x[0]!, (Tensor)x[1]!, prm.Get<ConvParams>(0), into);
        ConvTransposeLhs.Cpu!.Into = (x, prm, into) => ConvOps.TransposeLhs((Tensor)x[0]!, (Tensor)x[1]!, x.Length > 2 ? (Aval)x[2]! : null, prm.Get<ConvParams>(0), into);
        ConvTransposeRhs.Cpu!.Into = (x, prm, into) => ConvOps.ConvTransposeRhs((Tensor)x[0]!, (Tensor)x[1]!, (Aval)x[2]!, prm.Get<ConvParams>(0), into);
        foreach (var slot in new[] { Conv, ConvTransposeLhs, ConvTransposeRhs })
            slot.Cpu!.IntoWhen = (prm, d) => ConvOps.WritesInto(prm.Get<ConvParams>(0), d);
    }

    static V ConvAp(Primitive p, RuleCtx c, params V[] xs) => Ap(p, xs, c.P);

    /// <summary>One slot of the convolution family: bilinear in operands 0 and 1 (a third, aval operand gives the result's
    /// shape); floats only; its shape rule is computed, not run; the eager kernel is im2col and the packed GEMM.</summary>
    static Primitive ConvSlot(string name, MethodInfo tensor, MethodInfo[] aliases, JvpRule jvp, TransposeRule transpose, Func<ConvParams, Aval[], Aval> shape)
    {
        var p = Def(name, tensor, aliases: aliases);
        p.Family = PrimFamily.Contraction;
        p.Jvp = jvp;
        p.Transpose = transpose;
        p.NonDiff = [2];
        p.Accepts = DTypeSets.Floats;
        p.Cpu = new CpuLowering { Result = EagerResult.Fresh };
        // every C# spelling (the Lax method and the Np conveniences) is read into one ConvParams
        foreach (var m in aliases.Prepend(tensor)) readsAs[m] = s => (p, ConvParams.OfCall(m, s));
        p.AvalRule = (n, a) => n.Batch > 0
            ? Unbatch.AvalOf(n.Op, n.Params, n.Batch, n.Args.Select(x => x.Kind).ToArray(), a)
            : shape(n.Params.Get<ConvParams>(0), a);
        p.FormatRule = (a, _, prm) =>
        {
            var cp = prm.Get<ConvParams>(0);
            return name switch
            {
                "Conv" => $"Lax.Conv({a[0]}, {a[1]}, {cp.Text()})",
                "ConvTransposeRhs" => $"Lax.ConvTransposeRhs({a[0]}, {a[1]}, {a[2]}, {cp.Text()})",
                _ when a.Length > 2 => $"Lax.ConvTransposeLhs({a[0]}, {a[1]}, {a[2]}, {cp.Text()})",
                _ => $"Lax.ConvTransposeLhs({a[0]}, {a[1]}, {cp.Text()}, outputPadding: {Printer.Literal(cp.OutputPadding ?? [])})",
            };
        };
        return Batch(p, ConvBatching.Rule);
    }
}
