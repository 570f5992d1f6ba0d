using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD;

/// <summary>A value while reading: a graph node, a pytree of values, a compile-time constant, an array, or a lambda.</summary>
internal abstract class Sym;
internal sealed class SLeaf(Node n) : Sym { public readonly Node N = n; }
internal sealed class STree(TreeDef def, Sym[] children) : Sym { public readonly TreeDef Def = def; public readonly Sym[] Children = children; }
internal sealed class SStatic(object? value) : Sym { public readonly object? Value = value; }
internal sealed class SArray(Sym[] items) : Sym { public readonly Sym[] Items = items; }
internal sealed class SLambda(LambdaExpression l, Dictionary<ParameterExpression, Sym> env) : Sym
{
    public readonly LambdaExpression L = l;
    public readonly Dictionary<ParameterExpression, Sym> Env = env;
}

/// <summary>
/// A transformed nested lambda whose free variables became extra parameters: applying it passes the user's
/// arguments, then the bound values (and, for a JVP, zero tangents for them: they are held fixed).
/// </summary>
internal sealed class SPartial(LambdaExpression f, Sym[] bound, bool zeroTangents) : Sym
{
    public readonly LambdaExpression F = f;
    public readonly Sym[] Bound = bound;
    public readonly bool ZeroTangents = zeroTangents;
}

/// <summary>A function read into the IR: its graph (inputs: the leaves of every parameter) and the pytree shapes.</summary>
internal sealed class Program
{
    public required Graph Graph;
    public required ParameterExpression[] Parameters;
    public required TreeDef[] ParamDefs;
    public required TreeDef OutDef;
    public required Type ReturnType;
    /// <summary>Shape agreements between arguments (and results) that every runner checks; see <see cref="ShapeAgreement"/>.</summary>
    public ShapeAgreement[] Agreements = [];
    /// <summary>Index of the first graph input of each parameter.</summary>
    public int InputOffset(int param)
    {
        int offset = 0;
        for (int i = 0; i < param; i++) offset += ParamDefs[i].LeafCount;
        return offset;
    }
}

/// <summary>
/// Reads an <see cref="Expression{TDelegate}"/> into the IR: inlines <c>Invoke</c> and <c>Np.Let</c>, reads captured
/// values once, flattens pytrees into leaves, and turns <c>c ? a : b</c> into a conditional with sub-graphs.
/// Anything else fails with the subexpression printed as C#.
/// </summary>
internal sealed partial class Reader
{
    static readonly System.Runtime.CompilerServices.ConditionalWeakTable<LambdaExpression, Program> written = new();

    /// <summary>Remembers the program an expression was written from, so reading it again is exact and free.</summary>
    public static void Remember(LambdaExpression e, Program p) => written.AddOrUpdate(e, p);

    public static Program Read(LambdaExpression f)
    {
        ArgumentNullException.ThrowIfNull(f);
        if (written.TryGetValue(f, out var p)) return p;
        var b = new Builder();
        var env = new Dictionary<ParameterExpression, Sym>();
        var defs = new TreeDef[f.Parameters.Count];
        for (int i = 0; i < f.Parameters.Count; i++)
        {
            var prm = f.Parameters[i];
            defs[i] = TreeDef.Of(prm.Type);
            env[prm] = MakeInputs(b, defs[i], prm.Name ?? $"arg{i}");
        }
        var outDef = TreeDef.Of(f.ReturnType);   // the result type is checked before the body is read
        var reader = new Reader();
        var result = reader.Read(f.Body, env, b);
        var outs = new List<Node>();
        reader.Flatten(result, outDef, b, outs, f.Body);
        return new Program { Graph = b.Finish(outs), Parameters = f.Parameters.ToArray(), ParamDefs = defs, OutDef = outDef, ReturnType = f.ReturnType };
    }

    static Sym MakeInputs(Builder b, TreeDef d, string path)
    {
        if (d.Leaf is Kind k) return new SLeaf(b.Input(k, path));
        if (d.IsStatic) return new SLeaf(b.Input(Kind.Static, path, d.Type));
        return new STree(d, d.Members.Select((m, i) => MakeInputs(b, d.Children[i], path + "." + m.Name)).ToArray());
    }

    void Flatten(Sym s, TreeDef d, Builder b, List<Node> into, Expression at)
    {
        if (d.IsLeaf)
        {
            switch (s)
            {
                case SLeaf l: into.Add(l.N); return;
                case SStatic st when st.Value is not null && (st.Value is double || st.Value is float || st.Value is Tensor || d.IsStatic):
                    into.Add(b.Const(st.Value)); return;
            }
            throw Unsupported(at, $"this produces a value of type {Printer.TypeName(d.Type)} that is not known to the reader");
        }
        if (s is STree t && t.Def.Type == d.Type)
        {
            for (int i = 0; i < d.Children.Length; i++) Flatten(t.Children[i], d.Children[i], b, into, at);
            return;
        }
        if (s is SStatic { Value: { } v } && v.GetType() == d.Type)
        {
            var leaves = new List<object?>();
            d.Flatten(v, leaves);
            foreach (var x in leaves) into.Add(b.Const(x!));
            return;
        }
        throw Unsupported(at, $"expected a {Printer.TypeName(d.Type)}");
    }

    static UnsupportedExpressionException Unsupported(Expression e, string why) =>
        new($"Cannot read `{Printer.Expr(e)}`: {why}. See docs/csharp-subset.md for the C# an expression may contain.", Printer.Expr(e));

    Sym FromValue(object? v, Builder b)
    {
        switch (v)
        {
            case Tensor or double or float: return new SLeaf(b.Const(v));
            case LambdaExpression l: return new SLambda(l, new());
            case null: return new SStatic(null);
        }
        var t = v.GetType();
        if (!t.IsPrimitive && t != typeof(string) && !t.IsEnum && (TreeDef.IsValueTuple(t) || t.IsClass && !t.IsArray && t.Namespace != "System.Runtime.CompilerServices"
            && !t.Name.Contains("DisplayClass", StringComparison.Ordinal) && !t.Name.StartsWith('<')))
        {
            var d = TreeDef.TryOf(t);
            if (d is not null && !d.IsLeaf)
                return new STree(d, d.Members.Select(m => FromValue(m is PropertyInfo p ? p.GetValue(v) : ((FieldInfo)m).GetValue(v), b)).ToArray());
        }
        return new SStatic(v);
    }

    Node Leaf(Sym s, Builder b, Expression at)
    {
        switch (s)
        {
            case SLeaf l: return l.N;
            case SStatic { Value: double or float or Tensor or bool or Aval } st: return b.Const(st.Value!);
            case SStatic { Value: int i }: return b.Const((double)i);
        }
        throw Unsupported(at, "a single value (Tensor, double or float) was expected here");
    }

    /// <summary>
    /// The value of a captured variable or field (<c>closure.W</c>, <c>Model.Sigmoid</c>, a chain of fields and
    /// properties over a constant or a static member) read directly, without compiling a lambda for it (the
    /// expression interpreter's setup cost milliseconds in a fresh process); false for anything else, or a null on the
    /// way, which the compiled path then reports.
    /// </summary>
    static bool TryMemberValue(Expression e, out object? value)
    {
        value = null;
        switch (e)
        {
            case ConstantExpression c: value = c.Value; return true;
            case MemberExpression m:
                object? target = null;
                if (m.Expression is not null && (!TryMemberValue(m.Expression, out target) || target is null)) return false;
                switch (m.Member)
                {
                    case System.Reflection.FieldInfo f: value = f.GetValue(target); return true;
                    case System.Reflection.PropertyInfo p when p.GetIndexParameters().Length == 0 && p.GetMethod is not null:
                        try { value = p.GetValue(target); return true; }
                        catch (System.Reflection.TargetInvocationException) { return false; }
                    default: return false;
                }
            default: return false;
        }
    }

    public Sym Read(Expression e, Dictionary<ParameterExpression, Sym> env, Builder b)
    {
        if (e.NodeType is not (ExpressionType.Parameter or ExpressionType.Constant or ExpressionType.Lambda or ExpressionType.Quote) && IsClosed(e))
        {
            object? value;
            try { value = TryMemberValue(e, out var v) ? v : Expression.Lambda<Func<object?>>(Expression.Convert(e, typeof(object))).Compile(preferInterpretation: true)(); }
            catch (Exception ex) when (ex is not AdException)
            {
                throw new UnsupportedExpressionException($"Evaluating the captured subexpression `{Printer.Expr(e)}` when reading failed: {ex.Message}", Printer.Expr(e), ex);
            }
            return FromValue(value, b);
        }
        switch (e)
        {
            case ParameterExpression p:
                return env.TryGetValue(p, out var s) ? s : throw Unsupported(e, $"the parameter {p.Name} is not in scope");
            case ConstantExpression c:
                return FromValue(c.Value, b);
            case LambdaExpression l:
                return new SLambda(l, env);
            case UnaryExpression { NodeType: ExpressionType.Quote } q:
                return Read(q.Operand, env, b);
            case MemberExpression m:
                return ReadMember(m, env, b);
            case MethodCallExpression call:
                return ReadCall(call, env, b);
            case InvocationExpression inv:
                return Apply(Read(inv.Expression, env, b), inv.Arguments.Select(a => Read(a, env, b)).ToArray(), b, e);
            case ConditionalExpression cond:
                return ReadConditional(cond, env, b);
            case BinaryExpression bin:
                return ReadBinary(bin, env, b);
            case UnaryExpression un:
                return ReadUnary(un, env, b);
            case NewExpression nw:
                return ReadNew(nw, env, b);
            case NewArrayExpression { NodeType: ExpressionType.NewArrayInit } arr:
                return new SArray(arr.Expressions.Select(x => Read(x, env, b)).ToArray());
            case TryExpression { Body: var tryBody } when e.Type != typeof(void):
                return Read(tryBody, env, b);
            case BlockExpression block:
            {
                var inner = new Dictionary<ParameterExpression, Sym>(env);
                Sym last = new SStatic(null);
                foreach (var x in block.Expressions)
                {
                    if (x is BinaryExpression { NodeType: ExpressionType.Assign, Left: ParameterExpression v } asg)
                        last = inner[v] = Read(asg.Right, inner, b);
                    else last = Read(x, inner, b);
                }
                return last;
            }
        }
        throw Unsupported(e, $"a {e.NodeType} expression is not supported");
    }

    Sym ReadMember(MemberExpression m, Dictionary<ParameterExpression, Sym> env, Builder b)
    {
        var inner = Read(m.Expression!, env, b);
        switch (inner)
        {
            case STree t:
                int i = t.Def.IndexOf(m.Member);
                if (i >= 0) return t.Children[i];
                break;
            case SStatic { Value: { } obj }:
                return FromValue(m.Member is PropertyInfo p ? p.GetValue(obj) : ((FieldInfo)m.Member).GetValue(obj), b);
        }
        throw Unsupported(m, $"the member {m.Member.Name} cannot be read inside a transformed function (only pytree fields and captured values can)");
    }

    Sym Apply(Sym f, Sym[] args, Builder b, Expression at)
    {
        if (f is SPartial part)
        {
            if (!part.ZeroTangents) return Apply(new SLambda(part.F, new()), [.. args, .. part.Bound], b, at);
            int k = args.Length / 2;
            var zeros = part.Bound.Select(x => (Sym)new SLeaf(Jvp.Zero(b, Leaf(x, b, at)))).ToArray();
            return Apply(new SLambda(part.F, new()), [.. args.Take(k), .. part.Bound, .. args.Skip(k), .. zeros], b, at);
        }
        if (f is SLambda { L: var known } && written.TryGetValue(known, out var prog) && prog.Parameters.Length == args.Length)
        {
            // an expression this library wrote: inline its graph directly
            var ins = new List<Node>();
            for (int i = 0; i < args.Length; i++) Flatten(args[i], prog.ParamDefs[i], b, ins, at);
            var outs = b.Inline(prog.Graph, ins).ToList();
            int pos = 0;
            return Rebuild(prog.OutDef, outs, ref pos);
        }
        if (f is SLambda l)
        {
            if (l.L.Parameters.Count != args.Length) throw Unsupported(at, "wrong number of arguments");
            var env = new Dictionary<ParameterExpression, Sym>(l.Env);
            for (int i = 0; i < args.Length; i++) env[l.L.Parameters[i]] = args[i];
            return Read(l.L.Body, env, b);
        }
        throw Unsupported(at, "only expressions (Expression<Func<...>>) can be invoked inside a transformed function; a compiled delegate cannot be read");
    }

    Sym ReadCall(MethodCallExpression call, Dictionary<ParameterExpression, Sym> env, Builder b)
    {
        var m = call.Method;
        if (IndexingCall(call) is { } indexing)
        {
            spelled[indexing] = spelled.GetValueOrDefault(call) ?? call;
            return Read(indexing, env, b);
        }
        // x.AsType(d) is the primitive Lax.Cast(x, d)
        if (call.Object is not null && m.DeclaringType == typeof(Tensor) && m.Name == nameof(Tensor.AsType))
            return Read(Expression.Call(typeof(Lax).GetMethod(nameof(Lax.Cast), [typeof(Tensor), typeof(DType)])!, call.Object, call.Arguments[0]), env, b);
        var def = m.IsGenericMethod ? m.GetGenericMethodDefinition() : m;
        if (def.DeclaringType == typeof(ExpressionInvoke) && def.Name == nameof(ExpressionInvoke.Invoke))
            return Apply(Read(call.Arguments[0], env, b), call.Arguments.Skip(1).Select(a => Read(a, env, b)).ToArray(), b, call);
        if (def.DeclaringType == typeof(Np) && def.Name == nameof(Np.Let))
            return Apply(Read(call.Arguments[1], env, b), [Read(call.Arguments[0], env, b)], b, call);
        if (def.DeclaringType == typeof(Np) && def.Name == nameof(Np.Tuple) || def.DeclaringType == typeof(ValueTuple) && def.Name == nameof(ValueTuple.Create))
            return new STree(TreeDef.Of(call.Type), call.Arguments.Select(a => Read(a, env, b)).ToArray());
        if (def.DeclaringType == typeof(Np) && WhileRules.IsLoopMethod(def.Name))
            return ReadLoop(call, env, b);
        if (def == CustomRule.CallMethod && Read(call.Arguments[0], env, b) is SStatic { Value: CustomRule rule })
        {
            var argSym = Read(call.Arguments[1], env, b);
            var leaves = new List<Node>();
            Flatten(argSym, TreeDef.Of(call.Arguments[1].Type), b, leaves, call.Arguments[1]);
            return new SLeaf(CustomRules.Read(b, rule, leaves.ToArray()));
        }
        if (def.DeclaringType == typeof(Ad) && typeof(LambdaExpression).IsAssignableFrom(call.Type) && call.Arguments.Count == 1
            && StripQuote(call.Arguments[0]) is LambdaExpression inner)
            return ReadNestedTransform(def.Name, inner, env, b, call);
        if (def.DeclaringType == typeof(Expression) || def.DeclaringType == typeof(LambdaExpression) || def.Name == "Compile")
            throw Unsupported(call, "compiling or building expressions inside a transformed function is not supported; Invoke the expression instead");

        if (def.DeclaringType == typeof(Rt) && def.Name == nameof(Rt.InferAval) && call.Arguments[3] is NewArrayExpression avalArgs)
        {
            var cs = call.Arguments.Take(3).Select(a => Read(a, env, b)).ToArray();
            if (cs.All(x => x is SStatic))
                return new SLeaf(b.Apply(Prims.InferAval, avalArgs.Expressions.Select(x => Leaf(Read(x, env, b), b, x)).ToArray(),
                    new Params(((SStatic)cs[0]).Value, ((SStatic)cs[1]).Value, ((SStatic)cs[2]).Value)));
        }
        if (Prims.PiecesOf(m) is { } pieces)
            return ReadPieces(call, pieces, env, b);
        if (m.DeclaringType == typeof(Np) && m.Name == nameof(Np.Meshgrid))
            return ReadMeshgrid(call, env, b);
        var prim = Prims.ForMethod(m) ?? throw Unsupported(call,
            $"the method {Printer.TypeName(m.DeclaringType!)}.{m.Name} is not differentiable: it is not an Np or Lax primitive, an operator of Tensor, or a System.Math function the library knows");
        var ps = m.GetParameters();
        var operands = new List<Node>();
        var statics = new List<object?>();
        for (int i = 0; i < ps.Length; i++)
        {
            var pt = ps[i].ParameterType;
            var arg = call.Arguments[i];
            if (!Primitive.IsOperandType(pt) && !IsClosed(arg))
                throw Unsupported(arg, $"the argument {ps[i].Name} of {m.Name} is a static parameter (of type {Printer.TypeName(pt)}) and must be a constant known when the expression is read, not computed from the function's arguments");
            var s = Read(arg, env, b);
            if (Primitive.IsOperandType(pt))
            {
                if (pt.IsArray)
                {
                    if (s is SArray arr) operands.AddRange(arr.Items.Select(x => Leaf(x, b, arg)));
                    else if (s is SStatic { Value: Array values }) foreach (var v in values) operands.Add(b.Const(v!));
                    else throw Unsupported(arg, $"the argument {ps[i].Name} of {m.Name} must be an array written in place (new[] {{ a, b }})");
                }
                else operands.Add(Leaf(s, b, arg));
            }
            else if (s is SStatic st) statics.Add(st.Value);
            else throw Unsupported(arg, $"the argument {ps[i].Name} of {m.Name} is a static parameter and must be a constant known when the expression is read");
        }
        var (op, prms) = Prims.ReadsAs(prim, m, statics.ToArray());
        var node = b.Apply(op, operands.ToArray(), prms);
        node.Source ??= spelled.GetValueOrDefault(call) ?? call;
        // a composite with several results (Np.TopK) is read as the tuple its C# spelling returns
        if (node.Kind == Kind.Tuple && TreeDef.IsValueTuple(call.Type))
            return new STree(TreeDef.Of(call.Type), Tuples.Split(b, node).Select(n => (Sym)new SLeaf(n)).ToArray());
        return new SLeaf(node);
    }

    static bool IsIntegral(Type t) => t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(byte) || t == typeof(uint) || t == typeof(ulong) || t.IsEnum;

    static Expression StripQuote(Expression e) => e is UnaryExpression { NodeType: ExpressionType.Quote } q ? q.Operand : e;

    /// <summary>
    /// <c>Ad.Grad(y =&gt; ... x ...)</c> written inside an expression: the inner lambda's free variables (outer
    /// parameters and let-bound values) become extra parameters, held fixed by the transform, so perturbations of
    /// the inner and outer functions never mix. The result is applied with <c>.Invoke(...)</c>.
    /// </summary>
    Sym ReadNestedTransform(string name, LambdaExpression inner, Dictionary<ParameterExpression, Sym> env, Builder b, Expression at)
    {
        var free = new FreeParameters();
        free.Visit(inner);
        var fv = free.Used.Where(env.ContainsKey).Distinct().ToArray();
        var ext = Expression.Lambda(inner.Body, [.. inner.Parameters, .. fv]);
        var ps = ext.Parameters.Select(p => p.Type).ToArray();
        var p0 = ps[0];
        var r = inner.ReturnType;
        LambdaExpression transformed = name switch
        {
            nameof(Ad.Grad) => Ad.GradCore(ext, Expression.GetFuncType([.. ps, p0]), p0, false),
            nameof(Ad.ValueAndGrad) => Ad.GradCore(ext, Expression.GetFuncType([.. ps, typeof(ValueTuple<,>).MakeGenericType(r, p0)]), typeof(ValueTuple<,>).MakeGenericType(r, p0), true),
            nameof(Ad.Jvp) => Ad.JvpCore(ext, Expression.GetFuncType([.. ps, .. ps, typeof(ValueTuple<,>).MakeGenericType(r, r)]), typeof(ValueTuple<,>).MakeGenericType(r, r)),
            _ => throw Unsupported(at, $"Ad.{name} cannot be expanded inside an expression (Grad, ValueAndGrad and Jvp can)"),
        };
        return new SPartial(transformed, fv.Select(v => env[v]).ToArray(), name == nameof(Ad.Jvp));
    }

    Sym ReadConditional(ConditionalExpression cond, Dictionary<ParameterExpression, Sym> env, Builder b)
    {
        var test = Read(cond.Test, env, b);
        if (test is SStatic { Value: bool known }) return Read(known ? cond.IfTrue : cond.IfFalse, env, b);
        var c = Leaf(test, b, cond.Test);
        if (c.Kind == Kind.Static)
            throw Unsupported(cond.Test, $"the condition is a static {Printer.TypeName(cond.Test.Type)} (a bool, int or enum argument or pytree field), whose value is only known at call time while both branches are read now; " +
                "make it a captured constant (a variable outside the lambda: one program per value), or compare Tensor/double values (x > 0), which gives a condition the transformations can carry");
        if (c.Kind != Kind.Bool) throw Unsupported(cond.Test, $"the condition must be a bool computed from a comparison, but it is a {c.Kind}");
        var def = TreeDef.Of(cond.Type);
        // read each branch once into its own child builder; one conditional per output leaf
        var bt = new Builder(b); var lt = new List<Node>(); Flatten(Read(cond.IfTrue, env, bt), def, bt, lt, cond.IfTrue);
        var be = new Builder(b); var le = new List<Node>(); Flatten(Read(cond.IfFalse, env, be), def, be, le, cond.IfFalse);
        // a static leaf (int, long, enum) is carried, never traced: it cannot be chosen by a traced condition
        for (int k = 0; k < lt.Count; k++)
            if (lt[k].Kind == Kind.Static && !Equals(lt[k].Value, le[k].Value))
                throw Unsupported(cond, $"the branches give different {Printer.TypeName(lt[k].Value?.GetType() ?? cond.Type)} values ({lt[k].Value} and {le[k].Value}) under a condition computed from traced values, " +
                    "and int, long and enum values are static (carried, never traced); write the branches as doubles (`c ? 1.0 : 0.0`), or use Np.Where on tensors");
        var outs = CondRules.Make(b, c, bt, lt, be, le);
        int pos = 0;
        return Rebuild(def, outs, ref pos);
    }

    static Sym Rebuild(TreeDef d, List<Node> leaves, ref int pos)
    {
        if (d.IsLeaf) return new SLeaf(leaves[pos++]);
        var ch = new Sym[d.Children.Length];
        for (int i = 0; i < ch.Length; i++) ch[i] = Rebuild(d.Children[i], leaves, ref pos);
        return new STree(d, ch);
    }

    /// <summary>
    /// <c>Np.Meshgrid(x, y, indexing)</c>, composed: each vector expanded and broadcast against the other's expanded
    /// shape by adding zeros of a bool aval of that shape, so each piece keeps its own dtype as the method's do (bool
    /// takes any dtype's side in promotion); an array that <c>[i]</c> indexes.
    /// </summary>
    Sym ReadMeshgrid(MethodCallExpression call, Dictionary<ParameterExpression, Sym> env, Builder b)
    {
        var indexing = call.Arguments[2];
        if (!IsClosed(indexing) || Read(indexing, env, b) is not SStatic { Value: string mode })
            throw Unsupported(indexing, "the indexing of Np.Meshgrid is a static parameter and must be a constant string known when the expression is read");
        if (mode is not ("xy" or "ij"))
            throw Unsupported(indexing, $"the indexing of Np.Meshgrid must be \"xy\" or \"ij\", not \"{mode}\"");
        var px = Expression.Parameter(typeof(Tensor), "x");
        var py = Expression.Parameter(typeof(Tensor), "y");
        var inner = new Dictionary<ParameterExpression, Sym>(env)
        {
            [px] = Read(call.Arguments[0], env, b),
            [py] = Read(call.Arguments[1], env, b),
        };
        var expand = typeof(Np).GetMethod(nameof(Np.ExpandDims), [typeof(Tensor), typeof(int)])!;
        var isNan = typeof(Np).GetMethod(nameof(Np.IsNan), [typeof(Tensor)])!;
        var zeros = typeof(Lax).GetMethod(nameof(Lax.Zeros), [typeof(Aval)])!;
        var avalOf = typeof(Lax).GetMethod(nameof(Lax.AvalOf), [typeof(Tensor)])!;
        bool xy = mode == "xy";
        Expression xs = Expression.Call(expand, px, Expression.Constant(xy ? 0 : 1)), ys = Expression.Call(expand, py, Expression.Constant(xy ? 1 : 0));
        Expression Against(Expression a, Expression other) =>
            Expression.Add(a, Expression.Call(zeros, Expression.Call(avalOf, Expression.Call(isNan, other))));
        return Read(Expression.NewArrayInit(typeof(Tensor), Against(xs, ys), Against(ys, xs)), inner, b);
    }

    /// <summary>
    /// A call that returns several tensors (<c>Np.Split</c>): its tensor operand and constant arguments read, then each
    /// piece one primitive application (<see cref="Prims.PiecesOf"/>), as an array that <c>[i]</c> indexes.
    /// </summary>
    Sym ReadPieces(MethodCallExpression call, Func<object?[], (Primitive Op, Params Params)[]> pieces, Dictionary<ParameterExpression, Sym> env, Builder b)
    {
        var ps = call.Method.GetParameters();
        var x = Leaf(Read(call.Arguments[0], env, b), b, call.Arguments[0]);
        var statics = new List<object?>();
        for (int i = 1; i < ps.Length; i++)
        {
            var arg = call.Arguments[i];
            if (!IsClosed(arg) || Read(arg, env, b) is not SStatic st)
                throw Unsupported(arg, $"the argument {ps[i].Name} of {call.Method.Name} is a static parameter and must be a constant known when the expression is read");
            statics.Add(st.Value);
        }
        return new SArray(pieces(statics.ToArray()).Select(p =>
        {
            var n = b.Apply(p.Op, [x], p.Params);
            n.Source ??= call;
            return (Sym)new SLeaf(n);
        }).ToArray());
    }

    Sym ReadBinary(BinaryExpression bin, Dictionary<ParameterExpression, Sym> env, Builder b)
    {
        if (bin.NodeType == ExpressionType.ArrayIndex)
        {
            if (Read(bin.Left, env, b) is not SArray items)
                throw Unsupported(bin, "only the pieces of a split (Np.Split(x, sections, axis)[i], Np.ArraySplit(x, sections, axis)[i]), of a meshgrid (Np.Meshgrid(x, y, indexing)[i]) or an array written in place may be indexed");
            if (!IsClosed(bin.Right) || Read(bin.Right, env, b) is not SStatic { Value: int i })
                throw Unsupported(bin.Right, "an index into the pieces of a split must be a constant known when the expression is read");
            return i >= 0 && i < items.Items.Length ? items.Items[i]
                : throw Unsupported(bin, $"index {i} is outside the {items.Items.Length} pieces");
        }
        Primitive? p = bin.NodeType switch
        {
            ExpressionType.Add or ExpressionType.AddChecked => Prims.Add,
            ExpressionType.Subtract or ExpressionType.SubtractChecked => Prims.Sub,
            ExpressionType.Multiply or ExpressionType.MultiplyChecked => Prims.Mul,
            ExpressionType.Divide => Prims.Div,
            ExpressionType.Modulo => Prims.Remainder,
            ExpressionType.And when bin.Left.Type == typeof(Tensor) || bin.Right.Type == typeof(Tensor) => Prims.And,
            ExpressionType.Or when bin.Left.Type == typeof(Tensor) || bin.Right.Type == typeof(Tensor) => Prims.Or,
            ExpressionType.GreaterThan => Prims.Greater,
            ExpressionType.LessThan => Prims.Less,
            ExpressionType.GreaterThanOrEqual => Prims.GreaterEqual,
            ExpressionType.LessThanOrEqual => Prims.LessEqual,
            ExpressionType.Equal => Prims.Equal,
            ExpressionType.NotEqual => Prims.NotEqual,
            ExpressionType.AndAlso => Prims.And,
            ExpressionType.OrElse => Prims.Or,
            _ => null,
        };
        if (p is not null && bin.Method is null && IsIntegral(bin.Left.Type) && IsIntegral(bin.Right.Type) && !IsClosed(bin))
            throw Unsupported(bin, $"integer arithmetic ({Printer.TypeName(bin.Left.Type)} {bin.NodeType} {Printer.TypeName(bin.Right.Type)}) on a static argument is not read: int and long values are static (carried, never traced); " +
                "convert to double first (`(double)n / 2`), or compute the integer outside the lambda and capture it");
        if (p is null || bin.Method is { } m && m.DeclaringType != typeof(Tensor))
            throw Unsupported(bin, $"the operator {bin.NodeType} on {Printer.TypeName(bin.Left.Type)} and {Printer.TypeName(bin.Right.Type)} is not supported");
        if (bin.NodeType is ExpressionType.Equal or ExpressionType.NotEqual && (bin.Left.Type == typeof(Tensor) || bin.Right.Type == typeof(Tensor)))
            throw Unsupported(bin, "== and != compare Tensor references; use Np.Equal(a, b) for an elementwise mask");
        var l = Leaf(Read(bin.Left, env, b), b, bin.Left);
        var r = Leaf(Read(bin.Right, env, b), b, bin.Right);
        var node = b.Apply(p, [l, r]);
        node.Source ??= bin;
        return new SLeaf(node);
    }

    Sym ReadUnary(UnaryExpression un, Dictionary<ParameterExpression, Sym> env, Builder b)
    {
        var x = Read(un.Operand, env, b);
        switch (un.NodeType)
        {
            case ExpressionType.UnaryPlus: return x;
            case ExpressionType.Negate or ExpressionType.NegateChecked: return new SLeaf(b.Apply(Prims.Neg, [Leaf(x, b, un.Operand)]));
            case ExpressionType.Not when un.Type == typeof(bool) || un.Type == typeof(Tensor): return new SLeaf(b.Apply(Prims.Not, [Leaf(x, b, un.Operand)]));
            case ExpressionType.Convert or ExpressionType.ConvertChecked:
            {
                var from = un.Operand.Type; var to = un.Type;
                if (from == to) return x;
                if (x is SLeaf { N.Kind: Kind.Static } st && (from == typeof(int) || from == typeof(long)) && (to == typeof(double) || to == typeof(float)))
                {
                    var d = b.Apply(Prims.IntToDouble, [st.N]);
                    return new SLeaf(to == typeof(float) ? b.Apply(Prims.CastFloat, [d]) : d);
                }
                var n = Leaf(x, b, un.Operand);
                if (to == typeof(double) && n.Kind == Kind.Float) return new SLeaf(b.Apply(Prims.CastDouble, [n]));
                if (to == typeof(float) && n.Kind == Kind.Double) return new SLeaf(b.Apply(Prims.CastFloat, [n]));
                if (to == typeof(double) && n.Kind == Kind.Tensor) return new SLeaf(b.Apply(Prims.ToDouble, [n]));
                if (to == typeof(Tensor) && n.Kind == Kind.Double) return new SLeaf(b.Apply(Prims.FromDouble, [n]));
                if (to == typeof(Tensor) && n.Kind == Kind.Float) return new SLeaf(b.Apply(Prims.CastDouble, [n]) is var d ? b.Apply(Prims.FromDouble, [d]) : n);
                if (to == typeof(double) && n.Kind == Kind.Double || to == typeof(float) && n.Kind == Kind.Float) return new SLeaf(n);
                throw Unsupported(un, $"the conversion from {Printer.TypeName(from)} to {Printer.TypeName(to)} is not supported");
            }
        }
        throw Unsupported(un, $"the operator {un.NodeType} is not supported");
    }

    Sym ReadNew(NewExpression nw, Dictionary<ParameterExpression, Sym> env, Builder b)
    {
        var d = TreeDef.TryOf(nw.Type);
        if (d is null || d.IsLeaf || nw.Constructor != d.Ctor)
            throw Unsupported(nw, d is null
                ? $"{Printer.TypeName(nw.Type)} is not a pytree (records need a positional constructor whose parameters match their properties)"
                : $"only the positional constructor of {Printer.TypeName(nw.Type)} can be used inside a transformed function");
        return new STree(d, nw.Arguments.Select(a => Read(a, env, b)).ToArray());
    }

    /// <summary>True when <paramref name="e"/> uses no parameter it does not declare itself: it can be evaluated now.</summary>
    static bool IsClosed(Expression e)
    {
        var v = new FreeParameters();
        v.Visit(e);
        return v.Free == 0;
    }

    sealed class FreeParameters : ExpressionVisitor
    {
        readonly HashSet<ParameterExpression> declared = new();
        public int Free;
        public readonly List<ParameterExpression> Used = new();
        protected override Expression VisitLambda<TDelegate>(Expression<TDelegate> node)
        {
            foreach (var p in node.Parameters) declared.Add(p);
            return base.VisitLambda(node);
        }
        protected override Expression VisitBlock(BlockExpression node)
        {
            foreach (var p in node.Variables) declared.Add(p);
            return base.VisitBlock(node);
        }
        protected override Expression VisitParameter(ParameterExpression node)
        {
            if (!declared.Contains(node)) { Free++; Used.Add(node); }
            return node;
        }
    }
}
