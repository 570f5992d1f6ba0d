using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD.Testing.Programs;

/// <summary>
/// The constructs a random program is built from. The primitives themselves come from the spec table
/// (<see cref="Spec"/>: a <see cref="SpecOp"/> of <see cref="Specs.All"/>); the rest are C# constructs and shape
/// adapters that are not primitives of their own family.
/// </summary>
internal enum Op
{
    // leaves
    Arg, Var, Const,
    /// <summary>A spec of the table applied to operands (elementwise, a reduction, an operation along an axis, or on operands of the spec's own shapes).</summary>
    Spec,
    /// <summary>An operand put into a spec's domain: <c>a * a + 1</c> (Positive, AwayFromZero) or <c>Np.Tanh(a) * 0.9</c> (Unit).</summary>
    InDomain,
    /// <summary><c>c &gt; 0 ? a : b</c> on a double condition.</summary>
    Cond,
    // products and shapes (the generator's own shape rules)
    Dot, MatMul, Transpose, Reshape, BroadcastTo, Concatenate, Stack, Take,
    /// <summary><c>(double)a</c> of a rank-0 tensor, or <c>(double)Np.Sum(a)</c>.</summary>
    ToDouble,
    /// <summary><c>(Tensor)d</c>: a double as a rank-0 tensor.</summary>
    FromDouble,
    /// <summary><c>Np.Let(value, v =&gt; body)</c>: a shared subexpression.</summary>
    Let,
    /// <summary><c>f.Invoke(a)</c> of a user's elementwise function.</summary>
    User,
    /// <summary><c>Np.Fold(n, init, (double i, Tensor c) =&gt; body)</c>; operands init, body (see <see cref="Loop"/>).</summary>
    Fold,
    /// <summary>
    /// <c>Np.Scan(xs, init, (Tensor c, Tensor x) =&gt; Np.Tuple(body, y))</c> read as its final carry, its stacked ys, or
    /// both (<c>carry + Np.Sum(ys, 0)</c>); operands init, xs, body, y.
    /// </summary>
    Scan,
    /// <summary>
    /// <c>Np.While(s =&gt; Np.Maximum(s.Item2 - trips, cond - threshold) &lt; 0, s =&gt; Np.Tuple(body, s.Item2 + 1), Np.Tuple(init, 0)).Item1</c>:
    /// at most <c>trips</c> trips, fewer where the data makes <c>cond</c> reach the threshold; operands init, cond, body.
    /// </summary>
    While,
}

/// <summary>
/// The variables and static parameters of a loop term. <paramref name="Carry"/>'s bound covers the initial value and
/// every value the body gives (checked by <see cref="Term.LocalValid"/>), so it bounds the carry at every step.
/// </summary>
/// <param name="Carry">The carry, in scope in the body (and a While's condition, a Scan's y).</param>
/// <param name="Extra">A Fold's step index <c>i</c> (a double), a Scan's row <c>x</c>; null for a While.</param>
/// <param name="Count">A Fold's steps, a While's most trips; a Scan's checkpoint interval (1: none).</param>
/// <param name="Mode">A Scan's result: 0 the final carry, 1 the stacked ys, 2 both (<c>carry + Np.Sum(ys, 0)</c>).</param>
/// <param name="Threshold">A While's threshold: it goes on while <c>cond &lt; Threshold</c>.</param>
internal sealed record Loop(VarRef Carry, VarRef? Extra, int Count, int Mode = 0, double Threshold = 0);

/// <summary>A spec applied in a program: the operation and its static parameter (a <see cref="Reduction"/> or an axis).</summary>
internal sealed record SpecCall(SpecOp Op, object? Param);

internal sealed record Reduction(int? Axis, bool KeepDims);
/// <summary>A <c>Np.Let</c> variable; <paramref name="Batched"/>: its value depends on a leaf the generator keeps double code off.</summary>
internal sealed record VarRef(int Id, int[]? Shape, double Bound, bool Batched = false)
{
    /// <summary>How it is printed (a loop's variables: <c>c3</c>, <c>i3</c>, <c>row3</c>, <c>w3.Item1</c>); <c>v</c> and the id by default.</summary>
    public string Name { get; init; } = "v" + Id;
    /// <summary>Its value holds a tensor constant (float64): kept out of loops, where it would make a float32 carry float64.</summary>
    public bool HasConstant { get; init; }
}
internal sealed record Gather(double[] Indices, int Axis);

/// <summary>
/// A node of a random program: an operation, its result type (a tensor of <see cref="Shape"/>, or a double when
/// <see cref="Shape"/> is null) and its operands. Terms are immutable; a bound on the magnitude of the value over the
/// input domain is computed from the operands (for a spec, measured from the spec's function, see
/// <see cref="SpecOp.ElementwiseBound"/>), so overflow is ruled out by construction.
/// </summary>
/// <example><code>
/// var program = ProgramGen.FromSeed(9);
/// foreach (var output in program.Outputs) Console.WriteLine($"{output.Name}: size {output.Size}, depth {output.Depth}");
/// </code></example>
public sealed class Term
{
    internal Op Op { get; }
    internal object? Attr { get; }
    internal Term[] Args { get; }

    /// <summary>The shape of the value, or null for a <c>double</c>.</summary>
    public int[]? Shape { get; }
    /// <summary>Number of nodes.</summary>
    public int Size { get; }
    /// <summary>Longest path from this node to a leaf, counting nodes (a leaf has depth 1).</summary>
    public int Depth { get; }
    /// <summary>An upper bound of |value| for inputs in [-2, 2].</summary>
    public double Bound { get; }
    /// <summary>The name of the operation.</summary>
    public string Name => Op == Op.Spec ? ((SpecCall)Attr!).Op.Name : Op.ToString();

    /// <summary>The spec this node applies, if it applies one.</summary>
    public SpecOp? SpecOp => Op == Op.Spec ? ((SpecCall)Attr!).Op : null;

    internal Term(Op op, int[]? shape, Term[] args, object? attr = null, double? bound = null)
    {
        Op = op; Shape = shape; Args = args; Attr = attr;
        Size = 1 + args.Sum(a => a.Size);
        Depth = 1 + (args.Length == 0 ? 0 : args.Max(a => a.Depth));
        Bound = bound ?? ComputeBound();
    }

    /// <summary>True when the value is a <c>double</c> (not a tensor).</summary>
    public bool IsDouble => Shape is null;
    /// <summary>The operands.</summary>
    public IReadOnlyList<Term> Operands => Args;

    internal Term With(int i, Term a)
    {
        var args = (Term[])Args.Clone();
        args[i] = a;
        return new Term(Op, Shape, args, Attr, Op is Op.Arg or Op.Var or Op.Const ? Bound : null);
    }

    static int Product(int[]? s) => s is null ? 1 : s.Aggregate(1, (a, b) => a * b);

    double ComputeBound()
    {
        double B(int i) => Args[i].Bound;
        return Op switch
        {
            Op.Arg => 2,
            Op.Var => ((VarRef)Attr!).Bound,
            Op.Const => Math.Abs((double)Attr!),
            Op.Spec => SpecBound((SpecCall)Attr!),
            Op.InDomain => (Domain)Attr! == Domain.Unit ? 0.9 : B(0) * B(0) + 1,
            Op.Transpose or Op.Reshape or Op.BroadcastTo or Op.Take or Op.FromDouble => B(0),
            Op.Cond => Math.Max(B(1), B(2)),
            Op.ToDouble => B(0) * Math.Max(1, Product(Args[0].Shape)),
            Op.Dot or Op.MatMul => B(0) * B(1) * Math.Max(1, (int)Math.Round(Math.Sqrt(Product(Args[0].Shape) * Product(Args[1].Shape) / Math.Max(1.0, Product(Shape))))),
            Op.Concatenate or Op.Stack => Args.Max(a => a.Bound),
            Op.Let => B(1),
            Op.User => ((UserFunction)Attr!).Bound(B(0)),
            Op.Fold or Op.While => ((Loop)Attr!).Carry.Bound,
            Op.Scan => ((Loop)Attr!).Mode switch
            {
                0 => ((Loop)Attr!).Carry.Bound,
                1 => B(3),
                _ => ((Loop)Attr!).Carry.Bound + Args[1].Shape![0] * B(3),
            },
            _ => throw new InvalidOperationException(Op.ToString()),
        };
    }

    double SpecBound(SpecCall c) => c.Op.Family switch
    {
        SpecFamily.Elementwise => c.Op.ElementwiseBound(Args.Select(a => a.Bound).ToArray()),
        SpecFamily.FixedShapes => c.Op.FixedBound(Args.Select(a => a.Bound).ToArray()),
        SpecFamily.Reduction => c.Op.ReductionBound(Args[0].Bound, Math.Max(1, Product(Args[0].Shape) / Math.Max(1, Product(Shape)))),
        _ => c.Op.ReductionBound(Args[0].Bound, Args[0].Shape!.Length == 0 ? 1 : Args[0].Shape![Axis((int)c.Param!, Args[0].Shape!.Length)]),
    };

    static int Axis(int a, int rank) => a < 0 ? a + rank : a;

    /// <summary>The largest |value| any node may reach; larger operands are squashed by a Tanh when generated.</summary>
    internal const double MaxBound = 1000;

    /// <summary>True when every node of the tree respects its domain (Exp and Pow arguments small, every bound below the maximum).</summary>
    internal bool Valid() => Op != Op.FromDouble && ValidInside();

    bool ValidInside() => Bound <= MaxBound && LocalValid() && WeakScalarsNextToFloat64() && Args.All(a => a.ValidInside());

    /// <summary>
    /// <c>(Tensor)d</c> is a weak float32 scalar: alone (or broadcast, or under a function) it computes in float32, which
    /// float64 finite differences cannot check. So it appears only as an operand of + - * beside a float64 tensor.
    /// </summary>
    bool WeakScalarsNextToFloat64()
    {
        for (int i = 0; i < Args.Length; i++)
            if (Args[i].Op == Op.FromDouble && !(SpecOp is { TakesWeakScalar: true } && Args.Length == 2 && !Args[1 - i].IsDouble && Args[1 - i].Op != Op.FromDouble))
                return false;
        return true;
    }

    internal bool LocalValid() => Op switch
    {
        // an operand outside Any is put into its domain by the generator's wrapper (shrinking must keep it)
        Op.Spec => Args.Select((a, i) => ((SpecCall)Attr!).Op.Domains[i] == Domain.Any || a.Op == Op.InDomain && (Domain)a.Attr! == ((SpecCall)Attr!).Op.Domains[i]).All(x => x),
        Op.User => Args[0].Bound <= ((UserFunction)Attr!).MaxArgument,
        // the carry's bound holds for its initial value and for what the body gives (the same for a Scan's rows); no
        // float64 tensor constant in tensor code (it would make a float32 carry float64, which the loop refuses)
        Op.Fold or Op.While => Args[0].Bound <= ((Loop)Attr!).Carry.Bound && Args[^1].Bound <= ((Loop)Attr!).Carry.Bound && !Args.Any(a => a.HasTensorConstant),
        Op.Scan => Args[0].Bound <= ((Loop)Attr!).Carry.Bound && Args[2].Bound <= ((Loop)Attr!).Carry.Bound && Args[1].Bound <= ((Loop)Attr!).Extra!.Bound && !Args.Any(a => a.HasTensorConstant),
        _ => true,
    };

    /// <summary>True when a tensor constant (float64 whatever the inputs' dtype) occurs in the term or a variable's value it reads.</summary>
    internal bool HasTensorConstant => Op != Op.ToDouble && (Op == Op.Const && Shape is not null || Op == Op.Var && ((VarRef)Attr!).HasConstant || Args.Any(a => a.HasTensorConstant));

    /// <summary>True for the loops (their operands after the first, or the first two of a Scan, see their variables).</summary>
    internal bool IsLoop => Op is Op.Fold or Op.Scan or Op.While;

    /// <summary>Whether operand <paramref name="i"/> of a loop is inside the loop's scope (a body, a condition, a y).</summary>
    internal bool InLoopScope(int i) => IsLoop && i >= (Op == Op.Scan ? 2 : 1);

    /// <summary>The variables a loop brings into scope for its body, condition and y.</summary>
    internal IEnumerable<VarRef> LoopVars()
    {
        var l = (Loop)Attr!;
        yield return l.Carry;
        if (l.Extra is { } e) yield return e;
    }

    /// <summary>Replaces every reference to the variable <paramref name="id"/> by <paramref name="value"/>.</summary>
    internal Term Substitute(int id, Term value)
    {
        if (Op == Op.Var && ((VarRef)Attr!).Id == id) return value;
        if (Args.Length == 0) return this;
        var args = Args.Select(a => a.Substitute(id, value)).ToArray();
        return args.SequenceEqual(Args) ? this : new Term(Op, Shape, args, Attr);
    }

    /// <summary>The program text as C#.</summary>
    public override string ToString() => Show(new ShowContext(null));

    // ------------------------------------------------------------------ building LINQ expressions

    static readonly Type T = typeof(Tensor), D = typeof(double);
    static MethodInfo NpM(string name, params Type[] ts) => typeof(Np).GetMethod(name, ts) ?? throw new MissingMethodException(nameof(Np), name);
    static MethodInfo MathM(string name, params Type[] ts) => typeof(Math).GetMethod(name, ts)!;
    static readonly MethodInfo NpFull = NpM(nameof(Np.Full), typeof(int[]), D, typeof(DType));
    static readonly MethodInfo NpLet = typeof(Np).GetMethod(nameof(Np.Let))!;
    static readonly MethodInfo NpFold = NpM(nameof(Np.Fold), typeof(int), T, typeof(Func<double, Tensor, Tensor>));
    static readonly MethodInfo NpScan = NpM(nameof(Np.Scan), T, T, typeof(Func<Tensor, Tensor, (Tensor, Tensor)>));
    static readonly MethodInfo NpScanCheckpointed = NpM(nameof(Np.Scan), T, T, typeof(Func<Tensor, Tensor, (Tensor, Tensor)>), typeof(int), typeof(int));
    static readonly MethodInfo NpWhile = typeof(Np).GetMethods().Single(m => m.Name == nameof(Np.While) && m.IsGenericMethodDefinition).MakeGenericMethod(typeof((Tensor, Tensor)));
    static readonly MethodInfo NpTuple = typeof(Np).GetMethods().Single(m => m.Name == nameof(Np.Tuple) && m.GetGenericArguments().Length == 2).MakeGenericMethod(T, T);
    static readonly MethodInfo NpSumAxis = NpM(nameof(Np.Sum), T, typeof(int?), typeof(bool));
    static readonly MethodInfo NpMaximum = NpM(nameof(Np.Maximum), T, T);
    static readonly MethodInfo InvokeT = typeof(ExpressionInvoke).GetMethods().Single(m => m.Name == "Invoke" && m.GetGenericArguments().Length == 2)
        .MakeGenericMethod(T, T);

    static Expression C(double v) => Expression.Constant(v);
    static Expression Ints(int[] v) => Expression.NewArrayInit(typeof(int), v.Select(i => Expression.Constant(i)));
    static Expression NullableInt(int? v) => Expression.Constant(v, typeof(int?));

    internal Expression Build(BuildContext c)
    {
        if (IsLoop) return BuildLoop(c);
        if (Op == Op.Let)
        {
            var v = (VarRef)Attr!;
            var value = Args[0].Build(c);
            var p = Expression.Parameter(value.Type, "v" + v.Id);
            c.Vars[v.Id] = p;
            var body = Args[1].Build(c);
            c.Vars.Remove(v.Id);
            var let = NpLet.MakeGenericMethod(value.Type, body.Type);
            return Expression.Call(let, value, Expression.Lambda(typeof(Func<,>).MakeGenericType(value.Type, body.Type), body, p));
        }
        var a = Args.Select(x => x.Build(c)).ToArray();
        return Op switch
        {
            Op.Arg => c.Leaf((int)Attr!),
            Op.Var => c.Vars[((VarRef)Attr!).Id],
            Op.Const => IsDouble ? C((double)Attr!) : Expression.Call(NpFull, Ints(Shape!), C((double)Attr!), Expression.Constant(DType.Float64)),
            Op.Spec => ((SpecCall)Attr!).Op.Build(a, ((SpecCall)Attr!).Param, IsDouble, Atomic()),
            Op.InDomain => (Domain)Attr! == Domain.Unit
                ? Expression.Multiply(IsDouble ? Expression.Call(MathM("Tanh", D), a[0]) : Expression.Call(NpM("Tanh", T), a[0]), C(0.9))
                : Args[0].IsLeaf ? Expression.Add(Expression.Multiply(a[0], a[0]), C(1.0)) : SquarePlusOne(a[0]),
            Op.Cond => Expression.Condition(Expression.GreaterThan(a[0], C(0.0)), a[1], a[2]),
            Op.Dot => Expression.Call(NpM("Dot", T, T), a[0], a[1]),
            Op.MatMul => Expression.Call(NpM("MatMul", T, T), a[0], a[1]),
            Op.Transpose => Expression.Call(NpM("Transpose", T, typeof(int[])), a[0],
                Attr is int[] perm ? Ints(perm) : Expression.Constant(null, typeof(int[]))),
            Op.Reshape => Expression.Call(NpM("Reshape", T, typeof(int[])), a[0], Ints((int[])Attr!)),
            Op.BroadcastTo => Expression.Call(NpM("BroadcastTo", T, typeof(int[])), a[0], Ints(Shape!)),
            Op.Concatenate or Op.Stack => Expression.Call(NpM(Op.ToString(), typeof(Tensor[]), typeof(int)),
                Expression.NewArrayInit(T, a), Expression.Constant((int)Attr!)),
            Op.Take => Expression.Call(NpM("Take", T, T, typeof(int)), a[0],
                Expression.New(T.GetConstructor([typeof(double[])])!, Expression.NewArrayInit(D, ((Gather)Attr!).Indices.Select(C))),
                Expression.Constant(((Gather)Attr!).Axis)),
            Op.ToDouble => Expression.Convert(Args[0].Shape!.Length == 0 ? a[0]
                : Expression.Call(NpM("Sum", T, typeof(int?), typeof(bool)), a[0], NullableInt(null), Expression.Constant(false)), D),
            Op.FromDouble => Expression.Convert(a[0], T),
            Op.User => Expression.Call(InvokeT, Expression.Constant(((UserFunction)Attr!).Function, typeof(Expression<Func<Tensor, Tensor>>)), a[0]),
            _ => throw new InvalidOperationException(Op.ToString()),
        };
    }

    /// <summary>A loop as the library's loop combinators: its body, condition and y are nested lambdas over its variables.</summary>
    Expression BuildLoop(BuildContext c)
    {
        var l = (Loop)Attr!;
        Expression Inside(int i, params (VarRef V, Expression E)[] vars)
        {
            foreach (var (v, e) in vars) c.Vars[v.Id] = e;
            var r = Args[i].Build(c);
            foreach (var (v, _) in vars) c.Vars.Remove(v.Id);
            return r;
        }
        var init = Args[0].Build(c);
        switch (Op)
        {
            case Op.Fold:
            {
                var i = Expression.Parameter(D, l.Extra!.Name);
                var cp = Expression.Parameter(T, l.Carry.Name);
                var body = Inside(1, (l.Carry, cp), (l.Extra, i));
                return Expression.Call(NpFold, Expression.Constant(l.Count), init, Expression.Lambda<Func<double, Tensor, Tensor>>(body, i, cp));
            }
            case Op.Scan:
            {
                var xs = Args[1].Build(c);
                var cp = Expression.Parameter(T, l.Carry.Name);
                var x = Expression.Parameter(T, l.Extra!.Name);
                var body = Inside(2, (l.Carry, cp), (l.Extra, x));
                var y = Inside(3, (l.Carry, cp), (l.Extra, x));
                var f = Expression.Lambda<Func<Tensor, Tensor, (Tensor, Tensor)>>(Expression.Call(NpTuple, body, y), cp, x);
                var scan = l.Count > 1 ? Expression.Call(NpScanCheckpointed, xs, init, f, Expression.Constant(-1), Expression.Constant(l.Count)) : Expression.Call(NpScan, xs, init, f);
                if (l.Mode < 2) return Expression.Field(scan, l.Mode == 0 ? "Item1" : "Item2");
                var r = Expression.Parameter(scan.Type, "r" + l.Carry.Id);
                var both = Expression.Add(Expression.Field(r, "Item1"), Expression.Call(NpSumAxis, Expression.Field(r, "Item2"), NullableInt(0), Expression.Constant(false)));
                return Expression.Call(NpLet.MakeGenericMethod(scan.Type, T), scan, Expression.Lambda(typeof(Func<,>).MakeGenericType(scan.Type, T), both, r));
            }
            default:
            {
                // a tensor counter as a second carry bounds the trips (a double carry could not be batched under Vmap)
                var ws = Expression.Parameter(typeof((Tensor, Tensor)), l.Carry.Name.Split('.')[0]);
                var wb = Expression.Parameter(typeof((Tensor, Tensor)), ws.Name);
                var cond = Inside(1, (l.Carry, Expression.Field(ws, "Item1")));
                var go = Expression.LessThan(Expression.Call(NpMaximum, Expression.Subtract(Expression.Field(ws, "Item2"), C(l.Count)), Expression.Subtract(cond, C(l.Threshold))), C(0.0));
                var body = Inside(2, (l.Carry, Expression.Field(wb, "Item1")));
                var next = Expression.Call(NpTuple, body, Expression.Add(Expression.Field(wb, "Item2"), C(1.0)));
                var start = Expression.Call(NpTuple, init, Expression.Call(NpFull, Ints([]), C(0.0), Expression.Constant(DType.Float64)));
                var loop = Expression.Call(NpWhile, Expression.Lambda<Func<(Tensor, Tensor), Tensor>>(go, ws), Expression.Lambda<Func<(Tensor, Tensor), (Tensor, Tensor)>>(next, wb), start);
                return Expression.Field(loop, "Item1");
            }
        }
    }

    /// <summary><c>Np.Let(a, s =&gt; s * s + 1)</c>: the operand computed once.</summary>
    static Expression SquarePlusOne(Expression a)
    {
        var v = Expression.Parameter(a.Type, "s");
        var body = Expression.Add(Expression.Multiply(v, v), C(1.0));
        return Expression.Call(NpLet.MakeGenericMethod(a.Type, body.Type), a, Expression.Lambda(typeof(Func<,>).MakeGenericType(a.Type, body.Type), body, v));
    }

    internal bool IsLeaf => Op is Op.Arg or Op.Var or Op.Const;
    bool[] Atomic() => Args.Select(x => x.IsLeaf).ToArray();

    // ------------------------------------------------------------------ printing as C#

    internal static string Num(double d)
    {
        var s = d.ToString("R", CultureInfo.InvariantCulture);
        return s.Contains('.') || s.Contains('E') || s.Contains('N') || s.Contains('I') ? s : s + ".0";
    }

    internal static string IntArray(int[] v) => v.Length == 0 ? "new int[0]" : "new[] { " + string.Join(", ", v) + " }";

    internal string Show(ShowContext c)
    {
        var a = Args.Select(x => x.Show(c)).ToArray();
        return Op switch
        {
            Op.Arg => c.Leaf((int)Attr!),
            Op.Var => ((VarRef)Attr!).Name,
            Op.Const => IsDouble ? Num((double)Attr!) : $"Np.Full({IntArray(Shape!)}, {Num((double)Attr!)}, DType.Float64)",
            Op.Spec => ((SpecCall)Attr!).Op.Show(a, ((SpecCall)Attr!).Param, IsDouble, Atomic(), c.Fresh),
            Op.InDomain => (Domain)Attr! == Domain.Unit ? (IsDouble ? $"Math.Tanh({a[0]}) * 0.9" : $"Np.Tanh({a[0]}) * 0.9")
                : Args[0].IsLeaf ? $"{Paren(0, a)} * {Paren(0, a)} + 1" : c.Fresh() is var s ? $"Np.Let({a[0]}, {s} => {s} * {s} + 1)" : "",
            Op.Cond => $"({Paren(0, a)} > 0 ? {a[1]} : {a[2]})",
            Op.Dot or Op.MatMul => $"Np.{Op}({a[0]}, {a[1]})",
            Op.Transpose => $"Np.Transpose({a[0]}, {(Attr is int[] p ? IntArray(p) : "null")})",
            Op.Reshape => $"Np.Reshape({a[0]}, {IntArray((int[])Attr!)})",
            Op.BroadcastTo => $"Np.BroadcastTo({a[0]}, {IntArray(Shape!)})",
            Op.Concatenate or Op.Stack => $"Np.{Op}(new[] {{ {string.Join(", ", a)} }}, {(int)Attr!})",
            Op.Take => $"Np.Take({a[0]}, new Tensor(new[] {{ {string.Join(", ", ((Gather)Attr!).Indices.Select(Num))} }}), {((Gather)Attr!).Axis})",
            Op.ToDouble => Args[0].Shape!.Length == 0 ? $"(double){Paren(0, a)}" : $"(double)Np.Sum({a[0]}, null, false)",
            Op.FromDouble => $"(Tensor){Paren(0, a)}",
            Op.Let => $"Np.Let({a[0]}, v{((VarRef)Attr!).Id} => {a[1]})",
            Op.User => $"{((UserFunction)Attr!).Name}.Invoke({a[0]})",
            Op.Fold => $"Np.Fold({((Loop)Attr!).Count}, {a[0]}, (double {((Loop)Attr!).Extra!.Name}, Tensor {((Loop)Attr!).Carry.Name}) => {a[1]})",
            Op.Scan => ShowScan(a),
            Op.While => ShowWhile(a),
            _ => throw new InvalidOperationException(Op.ToString()),
        };
    }

    string ShowScan(string[] a)
    {
        var l = (Loop)Attr!;
        var scan = $"Np.Scan({a[1]}, {a[0]}, (Tensor {l.Carry.Name}, Tensor {l.Extra!.Name}) => Np.Tuple({a[2]}, {a[3]}){(l.Count > 1 ? $", -1, {l.Count}" : "")})";
        return l.Mode switch
        {
            0 => scan + ".Item1",
            1 => scan + ".Item2",
            _ => $"Np.Let({scan}, r{l.Carry.Id} => r{l.Carry.Id}.Item1 + Np.Sum(r{l.Carry.Id}.Item2, 0, false))",
        };
    }

    string ShowWhile(string[] a)
    {
        var l = (Loop)Attr!;
        var w = l.Carry.Name.Split('.')[0];
        return $"Np.While(((Tensor, Tensor) {w}) => Np.Maximum({w}.Item2 - {Num(l.Count)}, {Paren(1, a)} - {Num(l.Threshold)}) < 0.0, {w} => Np.Tuple({a[2]}, {w}.Item2 + 1.0), Np.Tuple({a[0]}, Np.Full(new int[0], 0.0, DType.Float64))).Item1";
    }

    string Paren(int i, string[] a) => Args[i].Op is Op.Arg or Op.Var or Op.Const || !a[i].Contains(' ') || a[i].StartsWith('(') && a[i].EndsWith(')') && Args[i].Op is Op.Cond
        ? a[i] : "(" + a[i] + ")";
}

/// <summary>Where the leaves of a term come from when it is built into a LINQ expression.</summary>
internal sealed class BuildContext(Func<int, Expression> leaf)
{
    public readonly Func<int, Expression> Leaf = leaf;
    public readonly Dictionary<int, Expression> Vars = new();
}

/// <summary>How leaves are named when a term is printed.</summary>
internal sealed class ShowContext(Func<int, string>? leaf)
{
    int shared;
    public string Leaf(int i) => leaf?.Invoke(i) ?? "leaf" + i;
    /// <summary>A new name for an operand bound once with <c>Np.Let</c> inside an operation.</summary>
    public string Fresh() => "s" + shared++;
}

/// <summary>
/// A user's elementwise function (<c>Tensor</c> to <c>Tensor</c> of the same shape) that random programs may call,
/// so it is differentiated inside random contexts: <c>name.Invoke(x)</c>.
/// </summary>
/// <param name="Name">The name it is printed with.</param>
/// <param name="Function">The function; it must keep its argument's shape.</param>
/// <param name="MaxArgument">The largest |argument| it accepts (the generator squashes larger arguments with a Tanh).</param>
/// <param name="Bound">An upper bound of |f(x)| given a bound of |x|.</param>
/// <example><code>
/// var softplus = new UserFunction("softplus", x =&gt; Np.Log(1 + Np.Exp(x)), MaxArgument: 20, Bound: b =&gt; b + 1);
/// var options = new ProgramOptions { UserFunctions = [softplus] };   // programs may call it
/// </code></example>
public sealed record UserFunction(string Name, Expression<Func<Tensor, Tensor>> Function, double MaxArgument, Func<double, double> Bound);
