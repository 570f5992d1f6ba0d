using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD.Testing.Programs;

/// <summary>The operations a random program is built from (each one C# construct; composites are kept whole so a
/// shrunk program stays inside every primitive's domain).</summary>
internal enum Op
{
    // leaves
    Arg, Var, Const,
    // elementwise, tensors and doubles alike (Np.* or Math.* / ScalarMath.*)
    Neg, Tanh, Sin, Cos, Sigmoid, Softplus, Relu, Abs, Exp,
    /// <summary><c>Log(Softplus(a))</c>: a logarithm of a positive value.</summary>
    LogSoftplus,
    /// <summary><c>Sqrt(a * a + 1)</c>: a square root of a value at least 1.</summary>
    SqrtSq1,
    Add, Sub, Mul,
    /// <summary><c>a / (b * b + 1)</c>: a division by a value at least 1.</summary>
    Div1,
    /// <summary><c>Pow(Exp(a), b)</c>: a power of a positive base.</summary>
    PowExp,
    Maximum, Minimum,
    // selection
    /// <summary><c>Np.Where(c &gt; 0.0, a, b)</c>.</summary>
    Where,
    /// <summary><c>c &gt; 0 ? a : b</c> on a double condition.</summary>
    Cond,
    // tensors only
    Sum, Mean, Max, LogSumExp, Softmax, LogSoftmax, Dot, MatMul, Transpose, Reshape, BroadcastTo, Concatenate, Stack, Take,
    /// <summary><c>(double)a</c> of a rank-0 tensor, or <c>(double)Np.Sum(a)</c>.</summary>
    ToDouble,
    /// <summary><c>(Tensor)d</c>: a double as a rank-0 tensor.</summary>
    FromDouble,
    /// <summary><c>Np.Let(value, v =&gt; body)</c>: a shared subexpression.</summary>
    Let,
    /// <summary><c>f.Invoke(a)</c> of a user's elementwise function.</summary>
    User,
}

internal sealed record Reduction(int? Axis, bool KeepDims);
/// <summary>A <c>Np.Let</c> variable; <paramref name="Batched"/>: its value depends on a leaf the generator keeps double code off.</summary>
internal sealed record VarRef(int Id, int[]? Shape, double Bound, bool Batched = false);
internal sealed record Gather(double[] Indices, int Axis);

/// <summary>
/// A node of a random program: an operation, its result type (a tensor of <see cref="Shape"/>, or a double when
/// <see cref="Shape"/> is null) and its operands. Terms are immutable; a bound on the magnitude of the value over the
/// input domain is computed from the operands, so overflow is ruled out by construction.
/// </summary>
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
    public string Name => Op.ToString();

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
            Op.Neg or Op.Abs or Op.Relu or Op.Transpose or Op.Reshape or Op.BroadcastTo or Op.Take or Op.Mean or Op.Max or Op.FromDouble => B(0),
            Op.Tanh or Op.Sin or Op.Cos or Op.Sigmoid or Op.Softmax => 1,
            Op.Softplus => B(0) + 0.7,
            Op.Exp => Math.Exp(B(0)),
            Op.LogSoftplus => B(0) + 1,
            Op.SqrtSq1 => B(0) + 1,
            Op.Add or Op.Sub => B(0) + B(1),
            Op.Mul => B(0) * B(1),
            Op.Div1 => B(0),
            Op.PowExp => Math.Exp(B(0) * B(1)),
            Op.Maximum or Op.Minimum => Math.Max(B(0), B(1)),
            Op.Where or Op.Cond => Math.Max(B(1), B(2)),
            Op.Sum or Op.ToDouble => B(0) * Math.Max(1, Product(Args[0].Shape) / Math.Max(1, Product(Shape))),
            Op.LogSumExp => B(0) + Math.Log(Math.Max(1, Product(Args[0].Shape))),
            Op.LogSoftmax => 2 * B(0) + Math.Log(Math.Max(1, Product(Args[0].Shape))),
            Op.Dot or Op.MatMul => B(0) * B(1) * Math.Max(1, (int)Math.Round(Math.Sqrt(Product(Args[0].Shape) * Product(Args[1].Shape) / Math.Max(1.0, Product(Shape))))),
            Op.Concatenate or Op.Stack => Args.Max(a => a.Bound),
            Op.Let => B(1),
            Op.User => ((UserFunction)Attr!).Bound(B(0)),
            _ => throw new InvalidOperationException(Op.ToString()),
        };
    }

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
            if (Args[i].Op == Op.FromDouble && !(Op is Op.Add or Op.Sub or Op.Mul && Args.Length == 2 && !Args[1 - i].IsDouble && Args[1 - i].Op != Op.FromDouble))
                return false;
        return true;
    }

    internal bool LocalValid() => Op switch
    {
        Op.Exp => Args[0].Bound <= 4,
        Op.PowExp => Args[0].Bound <= 2 && Args[1].Bound <= 3,
        Op.User => Args[0].Bound <= ((UserFunction)Attr!).MaxArgument,
        _ => true,
    };

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
    static MethodInfo ScalarM(string name) => typeof(ScalarMath).GetMethod(name, [D])!;
    static readonly MethodInfo NpFull = NpM(nameof(Np.Full), typeof(int[]), D, typeof(DType));
    static readonly MethodInfo NpLet = typeof(Np).GetMethod(nameof(Np.Let))!;
    static readonly MethodInfo InvokeT = typeof(ExpressionInvoke).GetMethods().Single(m => m.Name == "Invoke" && m.GetGenericArguments().Length == 2)
        .MakeGenericMethod(T, T);

    static Expression C(double v) => Expression.Constant(v);
    static Expression Ints(int[] v) => Expression.NewArrayInit(typeof(int), v.Select(i => Expression.Constant(i)));
    static Expression NullableInt(int? v) => Expression.Constant(v, typeof(int?));

    internal Expression Build(BuildContext c)
    {
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
        Expression Unary(string np, string math) => IsDouble
            ? Expression.Call(math.StartsWith("Scalar", StringComparison.Ordinal) ? ScalarM(math[6..]) : MathM(math, D), a[0])
            : Expression.Call(NpM(np, T), a[0]);
        Expression Sq1(Expression x) => Expression.Add(Expression.Multiply(x, x), C(1.0));
        return Op switch
        {
            Op.Arg => c.Leaf((int)Attr!),
            Op.Var => c.Vars[((VarRef)Attr!).Id],
            Op.Const => IsDouble ? C((double)Attr!) : Expression.Call(NpFull, Ints(Shape!), C((double)Attr!), Expression.Constant(DType.Float64)),
            Op.Neg => Expression.Negate(a[0]),
            Op.Tanh => Unary("Tanh", "Tanh"),
            Op.Sin => Unary("Sin", "Sin"),
            Op.Cos => Unary("Cos", "Cos"),
            Op.Sigmoid => Unary("Sigmoid", "ScalarSigmoid"),
            Op.Softplus => Unary("Softplus", "ScalarSoftplus"),
            Op.Relu => Unary("Relu", "ScalarRelu"),
            Op.Abs => Unary("Abs", "Abs"),
            Op.Exp => Unary("Exp", "Exp"),
            Op.LogSoftplus => IsDouble ? Expression.Call(MathM("Log", D), Expression.Call(ScalarM("Softplus"), a[0]))
                                       : Expression.Call(NpM("Log", T), Expression.Call(NpM("Softplus", T), a[0])),
            Op.SqrtSq1 => IsDouble ? Expression.Call(MathM("Sqrt", D), Sq1(a[0])) : Expression.Call(NpM("Sqrt", T), Sq1(a[0])),
            Op.Add => Expression.Add(a[0], a[1]),
            Op.Sub => Expression.Subtract(a[0], a[1]),
            Op.Mul => Expression.Multiply(a[0], a[1]),
            Op.Div1 => Expression.Divide(a[0], Sq1(a[1])),
            Op.PowExp => IsDouble ? Expression.Call(MathM("Pow", D, D), Expression.Call(MathM("Exp", D), a[0]), a[1])
                                  : Expression.Call(NpM("Pow", T, T), Expression.Call(NpM("Exp", T), a[0]), a[1]),
            Op.Maximum => IsDouble ? Expression.Call(MathM("Max", D, D), a[0], a[1]) : Expression.Call(NpM("Maximum", T, T), a[0], a[1]),
            Op.Minimum => IsDouble ? Expression.Call(MathM("Min", D, D), a[0], a[1]) : Expression.Call(NpM("Minimum", T, T), a[0], a[1]),
            Op.Where => Expression.Call(NpM("Where", T, T, T), Expression.GreaterThan(a[0], C(0.0)), a[1], a[2]),
            Op.Cond => Expression.Condition(Expression.GreaterThan(a[0], C(0.0)), a[1], a[2]),
            Op.Sum or Op.Mean or Op.Max or Op.LogSumExp => Expression.Call(NpM(Op.ToString(), T, typeof(int?), typeof(bool)), a[0],
                NullableInt(((Reduction)Attr!).Axis), Expression.Constant(((Reduction)Attr!).KeepDims)),
            Op.Softmax or Op.LogSoftmax => Expression.Call(NpM(Op.ToString(), T, typeof(int)), a[0], Expression.Constant((int)Attr!)),
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
        string Np1(string f) => $"Np.{f}({a[0]})";
        string Un(string np, string math) => IsDouble ? $"{math}({a[0]})" : Np1(np);
        string Sq1(string x) => $"{x} * {x} + 1";
        string Red() { var r = (Reduction)Attr!; return $"Np.{Op}({a[0]}, {(r.Axis is int ax ? ax.ToString(CultureInfo.InvariantCulture) : "null")}, {(r.KeepDims ? "true" : "false")})"; }
        return Op switch
        {
            Op.Arg => c.Leaf((int)Attr!),
            Op.Var => "v" + ((VarRef)Attr!).Id,
            Op.Const => IsDouble ? Num((double)Attr!) : $"Np.Full({IntArray(Shape!)}, {Num((double)Attr!)}, DType.Float64)",
            Op.Neg => $"-{Paren(0, a)}",
            Op.Tanh => Un("Tanh", "Math.Tanh"),
            Op.Sin => Un("Sin", "Math.Sin"),
            Op.Cos => Un("Cos", "Math.Cos"),
            Op.Sigmoid => Un("Sigmoid", "ScalarMath.Sigmoid"),
            Op.Softplus => Un("Softplus", "ScalarMath.Softplus"),
            Op.Relu => Un("Relu", "ScalarMath.Relu"),
            Op.Abs => Un("Abs", "Math.Abs"),
            Op.Exp => Un("Exp", "Math.Exp"),
            Op.LogSoftplus => IsDouble ? $"Math.Log(ScalarMath.Softplus({a[0]}))" : $"Np.Log(Np.Softplus({a[0]}))",
            Op.SqrtSq1 => IsDouble ? $"Math.Sqrt({Sq1(Paren(0, a))})" : $"Np.Sqrt({Sq1(Paren(0, a))})",
            Op.Add => $"({a[0]} + {a[1]})",
            Op.Sub => $"({a[0]} - {a[1]})",
            Op.Mul => $"{Paren(0, a)} * {Paren(1, a)}",
            Op.Div1 => $"{Paren(0, a)} / ({Sq1(Paren(1, a))})",
            Op.PowExp => IsDouble ? $"Math.Pow(Math.Exp({a[0]}), {a[1]})" : $"Np.Pow(Np.Exp({a[0]}), {a[1]})",
            Op.Maximum => IsDouble ? $"Math.Max({a[0]}, {a[1]})" : $"Np.Maximum({a[0]}, {a[1]})",
            Op.Minimum => IsDouble ? $"Math.Min({a[0]}, {a[1]})" : $"Np.Minimum({a[0]}, {a[1]})",
            Op.Where => $"Np.Where({Paren(0, a)} > 0.0, {a[1]}, {a[2]})",
            Op.Cond => $"({Paren(0, a)} > 0 ? {a[1]} : {a[2]})",
            Op.Sum or Op.Mean or Op.Max or Op.LogSumExp => Red(),
            Op.Softmax or Op.LogSoftmax => $"Np.{Op}({a[0]}, {(int)Attr!})",
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
            _ => throw new InvalidOperationException(Op.ToString()),
        };
    }

    string Paren(int i, string[] a) => Args[i].Op is Op.Arg or Op.Var or Op.Const || !a[i].Contains(' ') || a[i].StartsWith('(') && a[i].EndsWith(')') && Args[i].Op is Op.Add or Op.Sub or Op.Cond
        ? a[i] : "(" + a[i] + ")";
}

/// <summary>Where the leaves of a term come from when it is built into a LINQ expression.</summary>
internal sealed class BuildContext(Func<int, Expression> leaf)
{
    public readonly Func<int, Expression> Leaf = leaf;
    public readonly Dictionary<int, ParameterExpression> Vars = new();
}

/// <summary>How leaves are named when a term is printed.</summary>
internal sealed class ShowContext(Func<int, string>? leaf)
{
    public string Leaf(int i) => leaf?.Invoke(i) ?? "leaf" + i;
}

/// <summary>
/// A user's elementwise function (<c>Tensor</c> to <c>Tensor</c> of the same shape) that random programs may call,
/// so it is differentiated inside random contexts: <c>name.Invoke(x)</c>.
/// </summary>
/// <param name="Name">The name it is printed with.</param>
/// <param name="Function">The function; it must keep its argument's shape.</param>
/// <param name="MaxArgument">The largest |argument| it accepts (the generator squashes larger arguments with a Tanh).</param>
/// <param name="Bound">An upper bound of |f(x)| given a bound of |x|.</param>
public sealed record UserFunction(string Name, Expression<Func<Tensor, Tensor>> Function, double MaxArgument, Func<double, double> Bound);
