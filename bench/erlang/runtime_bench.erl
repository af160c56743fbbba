%% runtime_bench.erl - the runtime benchmarks of bench/runtime_bench.c,
%% written in Erlang for a side-by-side baseline (run with +S 2):
%%   spawn + init     median time to spawn a process that runs an init
%%                    function and reports back, in microseconds
%%   memory           bytes per idle process over 100,000 processes
%%   one-way          messages/s between 4 sender/receiver pairs
%%   one-way, 1 pair  the same between one pair
%%   round trip       median over 20 batches of the mean request/reply time
%%   round trip p99   99th percentile of single request/reply times (each
%%                    timed by the client around its request)
%%   (mode oneway / oneway_quick: the one-way figure alone, for scaling;
%%    spawn / spawn_quick: the spawn figure alone)
%%   (mode million N: N idle processes spawned, each sent one message, and
%%    stopped; the time of each phase and the peak RSS, as "million_*"
%%    lines and on one line for people)
%% Output: one "name value" line per figure.
-module(runtime_bench).
-export([main/0, main/1]).

main() -> main(["full"]).

main(["oneway"]) ->
    io:format("oneway_msgs_per_s ~.1f~n", [oneway_bench(4, 250000)]);
main(["oneway_quick"]) ->
    io:format("oneway_msgs_per_s ~.1f~n", [oneway_bench(4, 50000)]);
main(["spawn"]) ->
    io:format("spawn_median_us ~.3f~n", [spawn_bench(5000)]);
main(["spawn_quick"]) ->
    io:format("spawn_median_us ~.3f~n", [spawn_bench(2000)]);
main(["million", N]) ->
    million_bench(list_to_integer(N));
main([Mode]) ->
    Quick = Mode =:= "quick",
    io:format("spawn_median_us ~.3f~n", [spawn_bench(if Quick -> 2000; true -> 5000 end)]),
    io:format("bytes_per_idle_process ~.1f~n", [memory_bench(if Quick -> 20000; true -> 100000 end)]),
    io:format("oneway_msgs_per_s ~.1f~n", [oneway_bench(4, if Quick -> 50000; true -> 250000 end)]),
    io:format("oneway1_msgs_per_s ~.1f~n", [oneway_bench(1, if Quick -> 50000; true -> 250000 end)]),
    io:format("roundtrip_median_us ~.3f~n", [rtt_bench(20, 2000)]),
    io:format("roundtrip_p99_us ~.3f~n", [rtt_tail(if Quick -> 5; true -> 20 end, 2000)]),
    ok.

now_us() -> erlang:monotonic_time(microsecond).

median(L) -> lists:nth(length(L) div 2 + 1, lists:sort(L)).

init_state(Parent, Ref) -> Parent ! {Ref, started}, idle().
idle() -> receive stop -> ok; _ -> idle() end.

spawn_one() ->
    Ref = make_ref(), Self = self(),
    T0 = erlang:monotonic_time(nanosecond),
    Pid = spawn(fun() -> init_state(Self, Ref) end),
    receive {Ref, started} -> ok end,
    T1 = erlang:monotonic_time(nanosecond),
    {Pid, (T1 - T0) / 1000}.

spawn_bench(N) ->
    Rs = [spawn_one() || _ <- lists:seq(1, N)],
    [P ! stop || {P, _} <- Rs],
    median([T || {_, T} <- Rs]).

memory_bench(N) ->
    erlang:garbage_collect(),
    M0 = erlang:memory(total),
    Ps = [element(1, spawn_one()) || _ <- lists:seq(1, N)],
    M1 = erlang:memory(total),
    [P ! stop || P <- Ps],
    (M1 - M0) / N.

receiver(Parent, N) when N =:= 0 -> Parent ! done;
receiver(Parent, N) -> receive x -> receiver(Parent, N - 1) end.

sender(Peer, 0) -> Peer;
sender(Peer, N) -> Peer ! x, sender(Peer, N - 1).

oneway_bench(Pairs, N) ->
    Self = self(),
    Rs = [spawn(fun() -> receiver(Self, N) end) || _ <- lists:seq(1, Pairs)],
    T0 = now_us(),
    [spawn(fun() -> sender(R, N) end) || R <- Rs],
    [receive done -> ok end || _ <- Rs],
    T1 = now_us(),
    Pairs * N / ((T1 - T0) / 1.0e6).

echo() -> receive {From, Ref, M} -> From ! {Ref, M}, echo(); stop -> ok end.

ask(_Srv, 0) -> ok;
ask(Srv, N) ->
    Ref = make_ref(),
    Srv ! {self(), Ref, q},
    receive {Ref, _} -> ask(Srv, N - 1) end.

rtt_bench(Batches, N) ->
    Srv = spawn(fun echo/0),
    Self = self(),
    Client = spawn(fun() -> client(Self, Srv) end),
    Ts = [begin
              Client ! {go, N},
              T0 = now_us(),
              receive batch_done -> ok end,
              (now_us() - T0) / N
          end || _ <- lists:seq(1, Batches)],
    Srv ! stop, Client ! stop,
    median(Ts).

%% Single round trips, each timed (ns), for the tail percentile.
ask_timed(_Srv, 0, Acc) -> Acc;
ask_timed(Srv, N, Acc) ->
    T0 = erlang:monotonic_time(nanosecond),
    Ref = make_ref(),
    Srv ! {self(), Ref, q},
    receive {Ref, _} -> ok end,
    ask_timed(Srv, N - 1, [erlang:monotonic_time(nanosecond) - T0 | Acc]).

rtt_tail(Batches, N) ->
    Srv = spawn(fun echo/0),
    Self = self(),
    Client = spawn(fun() -> timed_client(Self, Srv) end),
    Ts = lists:append([begin
                           Client ! {go, N},
                           receive {batch, L} -> L end
                       end || _ <- lists:seq(1, Batches)]),
    Srv ! stop, Client ! stop,
    Sorted = lists:sort(Ts),
    lists:nth(trunc((length(Sorted) - 1) * 0.99) + 1, Sorted) / 1000.

timed_client(Parent, Srv) ->
    receive
        {go, N} -> Parent ! {batch, ask_timed(Srv, N, [])}, timed_client(Parent, Srv);
        stop -> ok
    end.

client(Parent, Srv) ->
    receive
        {go, N} -> ask(Srv, N), Parent ! batch_done, client(Parent, Srv);
        stop -> ok
    end.

%% Peak resident set of the emulator (VmHWM), in KiB.
peak_rss_kib() ->
    {ok, Bin} = file:read_file("/proc/self/status"),
    Lines = string:split(binary_to_list(Bin), "\n", all),
    case [L || L <- Lines, string:prefix(L, "VmHWM:") =/= nomatch] of
        [L | _] -> list_to_integer(hd(string:lexemes(string:prefix(L, "VmHWM:"), " \tkB")));
        [] -> -1
    end.

%% N 'DOWN' messages, in whatever order they come (a selective receive of
%% each monitor in turn would scan the whole mailbox every time).
wait_down(0) -> ok;
wait_down(N) -> receive {'DOWN', _, process, _, _} -> wait_down(N - 1) end.

counter(Parent, Ref) -> Parent ! {Ref, started}, counter_loop(0).
counter_loop(N) -> receive stop -> ok; _ -> counter_loop(N + 1) end.

million_bench(N) ->
    Self = self(),
    T0 = now_us(),
    Ps = [begin
              Ref = make_ref(),
              P = spawn(fun() -> counter(Self, Ref) end),
              receive {Ref, started} -> P end
          end || _ <- lists:seq(1, N)],
    T1 = now_us(),
    [P ! x || P <- Ps],
    T2 = now_us(),
    [monitor(process, P) || P <- Ps],
    [P ! stop || P <- Ps],
    wait_down(N),
    T3 = now_us(),
    Rss = peak_rss_kib(),
    io:format("million_spawn_s ~.3f~nmillion_send_s ~.3f~nmillion_stop_s ~.3f~n"
              "million_total_s ~.3f~nmillion_peak_rss_kib ~B~n",
              [(T1 - T0) / 1.0e6, (T2 - T1) / 1.0e6, (T3 - T2) / 1.0e6, (T3 - T0) / 1.0e6, Rss]),
    io:format("million ~B idle processes: spawn ~.2f s (~.2f us each), one message each ~.2f s, "
              "stop ~.2f s; total ~.2f s; peak RSS ~.1f MiB (peak / N: ~B bytes per process)~n",
              [N, (T1 - T0) / 1.0e6, (T1 - T0) / N, (T2 - T1) / 1.0e6, (T3 - T2) / 1.0e6,
               (T3 - T0) / 1.0e6, Rss / 1024, round(Rss * 1024 / N)]).
