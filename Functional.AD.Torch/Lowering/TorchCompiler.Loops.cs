using System.Linq.Expressions;
using TorchSharp;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

/// <summary>
/// The derivative loops of <c>NpLoops.Fold</c> (see <c>Loops</c> in the core), lowered as real loops on the host around
/// the lowered body, like <see cref="EmitFold"/>:
/// <list type="bullet">
/// <item><c>FoldTape</c>: the forward loop, storing the carry at the start of each iteration in an <c>object[]</c> of n
/// device tensors (or boxed doubles). Its compile-time "aval" is the carry's aval, so the loops reading the tape can
/// lower their bodies with concrete shapes.</item>
/// <item><c>FoldLin</c>: the tangent loop, running the lowered JVP body over the tape.</item>
/// <item><c>FoldLinT</c>: its transpose, running the lowered transposed body backwards over the tape and summing the
/// cotangent of one operand.</item>
/// </list>
/// The tape and every temporary of the loops belong to the call's dispose scope: they are freed when the call returns.
/// The helpers (<see cref="EmitBody"/>, <see cref="CountedLoop"/>, <see cref="Accumulate"/>) serve any loop primitive.
/// </summary>
internal sealed partial class TorchCompiler
{
    /// <summary>A sub-graph lowered in place: its locals, statements, output expressions and output avals.</summary>
    internal sealed record LoweredBody(ParameterExpression[] Vars, Expression[] Stmts, Expression[] Outs, Aval?[] Avals)
    {
        /// <summary>The body's statements followed by <paramref name="tail"/> (which may read <see cref="Outs"/>), as one block.</summary>
        public Expression Then(params Expression[] tail) => Expression.Block(typeof(void), Vars, [.. Stmts, .. tail, Expression.Empty()]);
    }

    /// <summary>Lowers <paramref name="g"/> on the given input expressions and avals (every output kept).</summary>
    internal LoweredBody EmitBody(Graph g, Expression[] inputs, Aval?[] inputAvals)
    {
        var vars = new List<ParameterExpression>();
        var stmts = new List<Expression>();
        var (outs, avals) = EmitGraph(g, inputs, inputAvals, vars, stmts);
        return new LoweredBody(vars.ToArray(), stmts.ToArray(), outs, avals);
    }

    /// <summary>
    /// <c>for (i = 0; i &lt; n; i++) body</c>, or <c>for (i = n - 1; i &gt;= 0; i--) body</c> when <paramref name="reverse"/>:
    /// a counted loop on the host; <paramref name="i"/> must be declared by the caller.
    /// </summary>
    internal static Expression CountedLoop(ParameterExpression i, Expression n, Expression body, bool reverse = false)
    {
        var brk = Expression.Label("done");
        return Expression.Block(
            Expression.Assign(i, reverse ? Expression.Decrement(n) : Expression.Constant(0)),
            Expression.Loop(Expression.IfThenElse(reverse ? Expression.GreaterThanOrEqual(i, Expression.Constant(0)) : Expression.LessThan(i, n),
                Expression.Block(body, reverse ? Expression.PostDecrementAssign(i) : Expression.PostIncrementAssign(i)),
                Expression.Break(brk)), brk));
    }

    static readonly Func<TT, TT, TT> AddTensors = (a, b) => a + b;

    /// <summary><c>acc + x</c> for a tensor (libtorch addition) or a C# scalar.</summary>
    internal static Expression Accumulate(Expression acc, Expression x) => acc.Type == typeof(TT)
        ? Expression.Invoke(Expression.Constant(AddTensors), acc, Primitive.Conv(x, typeof(TT)))
        : Expression.Add(acc, Primitive.Conv(x, acc.Type));

    /// <summary>The zero of a value of <paramref name="aval"/> and CLR type <paramref name="type"/> (a loop that runs no iteration).</summary>
    Expression ZeroOf(Type type, Aval? aval)
    {
        if (type != typeof(TT)) return Expression.Default(type);
        var a = aval ?? throw new InvalidOperationException("Internal error: the aval of an empty loop's result is unknown.");
        var dims = Lowerings.Longs(a.Dims);
        var dtype = Lowerings.ScalarOf(a.DType);
        var device = backend.Device;
        Func<TT> zeros = () => torch.zeros(dims, dtype, device);
        return Expression.Invoke(Expression.Constant(zeros));
    }

    static Expression Index(Expression i) => Expression.Convert(i, typeof(double));

    static Expression TapeAt(Expression tape, Expression i, Type carry) => Expression.Convert(Expression.ArrayIndex(tape, i), carry);

    /// <summary>FoldTape(init, captures...): the forward loop, keeping the n carries at the start of each iteration.</summary>
    internal (Expression, Aval?) EmitFoldTape(Node n, Expression[] args, Aval?[] argAvals)
    {
        int count = n.Params.Get<int>(0);
        Loops.FoldAval(n, argAvals);   // the body keeps its carry's shape and dtype, or the CPU jit's shape error
        var i = Expression.Variable(typeof(int), "i");
        var carry = Expression.Variable(args[0].Type, "carry");
        var tape = Expression.Variable(typeof(object[]), "tape");
        var body = EmitBody(n.Subgraphs[0], [Index(i), carry, .. args.Skip(1)], [Aval.ScalarDouble, argAvals[0], .. argAvals.Skip(1)]);
        var loop = Expression.Block(typeof(object[]), [carry, i, tape],
            Expression.Assign(tape, Expression.NewArrayBounds(typeof(object), Expression.Constant(count))),
            Expression.Assign(carry, args[0]),
            CountedLoop(i, Expression.Constant(count), body.Then(
                Expression.Assign(Expression.ArrayAccess(tape, i), Expression.Convert(carry, typeof(object))),
                Expression.Assign(carry, Primitive.Conv(body.Outs[0], carry.Type)))),
            tape);
        // the tape's aval is the carry's: the loops over the tape lower their bodies with it
        return (loop, argAvals[0]);
    }

    /// <summary>
    /// FoldLin(tape, captures..., carry tangent, capture tangents...): <c>t = lin(i, tape[i], ..., t, ...)</c> for
    /// i = 0..n-1, starting from the carry tangent (operand <c>params[1]</c>).
    /// </summary>
    internal (Expression, Aval?) EmitFoldLin(Node n, Expression[] args, Aval?[] argAvals)
    {
        int count = n.Params.Get<int>(0), carryT = n.Params.Get<int>(1);
        var linBody = n.Subgraphs[0];
        var carryType = ClrType(linBody.Inputs[1]);
        var i = Expression.Variable(typeof(int), "i");
        var tape = Expression.Variable(typeof(object[]), "tape");
        var t = Expression.Variable(ClrType(n.Args[carryT]), "tangent");
        var operands = args.Skip(1).ToArray();
        operands[carryT - 1] = t;
        var body = EmitBody(linBody, [Index(i), TapeAt(tape, i, carryType), .. operands], [Aval.ScalarDouble, argAvals[0], .. argAvals.Skip(1)]);
        var loop = Expression.Block(t.Type, [i, tape, t],
            Expression.Assign(tape, Primitive.Conv(args[0], typeof(object[]))),
            Expression.Assign(t, args[carryT]),
            CountedLoop(i, Expression.Constant(count), body.Then(Expression.Assign(t, Primitive.Conv(body.Outs[0], t.Type)))),
            t);
        return (loop, body.Avals[0] ?? argAvals[carryT]);
    }

    /// <summary>
    /// FoldLinT(tape, non-linear operands..., avals of linear operands..., ct): the transposed body run for
    /// i = n-1..0, <c>(ct, ct_1, ...) = T(i, tape[i], ..., ct)</c>; the result is the final carry cotangent
    /// (<c>params[1]</c> = 0) or the sum over iterations of the cotangent of linear operand <c>params[1]</c>.
    /// </summary>
    internal (Expression, Aval?) EmitFoldLinT(Node n, Expression[] args, Aval?[] argAvals)
    {
        int count = n.Params.Get<int>(0), which = n.Params.Get<int>(1);
        var tBody = n.Subgraphs[1];
        var carryType = ClrType(tBody.Inputs[1]);
        var i = Expression.Variable(typeof(int), "i");
        var tape = Expression.Variable(typeof(object[]), "tape");
        var ct = Expression.Variable(ClrType(n.Args[^1]), "ct");
        var body = EmitBody(tBody, [Index(i), TapeAt(tape, i, carryType), .. args.Skip(1).Take(args.Length - 2), ct],
            [Aval.ScalarDouble, argAvals[0], .. argAvals.Skip(1)]);
        var nextCt = Expression.Variable(ct.Type, "nextCt");
        if (which == 0)
        {
            var loop0 = Expression.Block(ct.Type, [i, tape, ct, nextCt],
                Expression.Assign(tape, Primitive.Conv(args[0], typeof(object[]))),
                Expression.Assign(ct, args[^1]),
                CountedLoop(i, Expression.Constant(count), body.Then(Expression.Assign(nextCt, Primitive.Conv(body.Outs[0], ct.Type)), Expression.Assign(ct, nextCt)), reverse: true),
                ct);
            return (loop0, body.Avals[0] ?? argAvals[^1]);
        }
        var outAval = body.Avals[which];
        var acc = Expression.Variable(ClrType(tBody.Outputs[which]), "acc");
        if (count == 0) return (ZeroOf(acc.Type, outAval), outAval);
        // both outputs are read before the carry's cotangent is replaced (an output may be an input of the body)
        var part = Expression.Variable(acc.Type, "part");
        var loop = Expression.Block(acc.Type, [i, tape, ct, nextCt, acc, part],
            Expression.Assign(tape, Primitive.Conv(args[0], typeof(object[]))),
            Expression.Assign(ct, args[^1]),
            CountedLoop(i, Expression.Constant(count), body.Then(
                Expression.Assign(nextCt, Primitive.Conv(body.Outs[0], ct.Type)),
                Expression.Assign(part, Primitive.Conv(body.Outs[which], acc.Type)),
                Expression.Assign(acc, Expression.Condition(Expression.Equal(i, Expression.Constant(count - 1)), part, Accumulate(acc, part))),
                Expression.Assign(ct, nextCt)), reverse: true),
            acc);
        return (loop, outAval);
    }
}
