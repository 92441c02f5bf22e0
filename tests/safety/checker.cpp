// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "checker.h"

#include <QDir>
#include <QHash>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <climits>

namespace QRedlockSafety {

namespace {

constexpr double NsPerMs = 1e6;
constexpr int MaxFindings = 12;
// Scheduling slack in the recovery bound: processes of a loaded 2-core machine.
constexpr int RecoverySlackMs = 50;

double ms(qint64 ns) { return double(ns) / NsPerMs; }

// One line of a worker log (see worker.cpp for the writer).
struct Holding
{
    int worker = 0;
    int index = 0;
    qint64 want = 0, grant = 0, deadline = 0, end = 0;
    QByteArray reason;
    qint64 signal = 0, release = 0, lastWrite = 0, stale = 0;
    int increments = 0;
    int extensions = 0;
    qint64 wallOffset = 0;

    // The worker may touch the counter until its end, and never after the deadline it was
    // told (it checks before every write; a write after it is reported on its own).
    qint64 until() const { return std::min(end, deadline); }
};

bool parseLine(const QByteArray &line, Holding *h)
{
    const QList<QByteArray> f = line.trimmed().split('\t');
    if (f.size() != 14)
        return false;
    bool ok = true;
    const auto num = [&](int i) {
        bool good = false;
        const qint64 v = f.at(i).toLongLong(&good);
        ok = ok && good;
        return v;
    };
    h->worker = int(num(0));
    h->index = int(num(1));
    h->want = num(2);
    h->grant = num(3);
    h->deadline = num(4);
    h->end = num(5);
    h->reason = f.at(6);
    h->signal = num(7);
    h->release = num(8);
    h->lastWrite = num(9);
    h->stale = num(10);
    h->increments = int(num(11));
    h->extensions = int(num(12));
    h->wallOffset = num(13);
    return ok && h->grant > 0 && h->end >= h->grant;
}

QJsonValue nsValue(qint64 v) { return QJsonValue(QString::number(v)); }
qint64 nsOf(const QJsonValue &v) { return v.toString().toLongLong(); }

void note(CheckResult *r, const QString &text)
{
    if (r->findings.size() < MaxFindings)
        r->findings << text;
}

// Windows in which this worker did not run that overlap [from, to]: when the last of them
// ended (0: none), and whether the runner's SIGSTOP was among them.
struct Stopped
{
    qint64 resumeNs = 0;
    bool paused = false;
};

Stopped stoppedWithin(const QList<Pause> &pauses, int worker, qint64 from, qint64 to)
{
    Stopped s;
    for (const Pause &p : pauses) {
        if (p.worker == worker && p.stopNs <= to && p.resumeNs >= from) {
            s.resumeNs = std::max(s.resumeNs, p.resumeNs);
            s.paused = s.paused || !p.stall;
        }
    }
    return s;
}

// Reads a worker's tab-separated side file: every non-empty line must have `fields` fields.
// A missing file is an empty one; false when it cannot be read or a line is malformed.
template<typename Each>
bool loadTabbed(const QString &path, qsizetype fields, Each each)
{
    QFile file(path);
    if (!file.exists())
        return true;
    if (!file.open(QIODevice::ReadOnly))
        return false;
    while (!file.atEnd()) {
        QByteArray line = file.readLine();
        if (line.endsWith('\n'))
            line.chop(1);
        if (line.trimmed().isEmpty())
            continue;
        const QList<QByteArray> f = line.split('\t');
        if (f.size() != fields)
            return false;
        each(f);
    }
    return true;
}

bool loadStalls(const QString &path, int worker, QList<Pause> *out)
{
    return loadTabbed(path, 3, [&](const QList<QByteArray> &f) {
        out->append({ worker, f.at(0).trimmed().toLongLong(), f.at(1).trimmed().toLongLong(), true });
    });
}

void checkOverlaps(const QList<Holding> &hs, CheckResult *r)
{
    // Sorted by grant: a holding can only overlap later grants that start before it ends.
    for (int i = 0; i < hs.size(); ++i) {
        for (int j = i + 1; j < hs.size() && hs.at(j).grant < hs.at(i).until(); ++j) {
            if (hs.at(j).worker == hs.at(i).worker)
                continue;
            const qint64 overlap = std::min(hs.at(i).until(), hs.at(j).until()) - hs.at(j).grant;
            if (overlap <= 0)
                continue;
            ++r->overlaps;
            r->worstOverlapMs = std::max(r->worstOverlapMs, ms(overlap));
            note(r, QStringLiteral("overlap %1 ms: worker %2 holding %3 (%4, until +%5 ms) and worker %6 holding %7 "
                                   "(granted +%8 ms after the first)")
                            .arg(ms(overlap), 0, 'f', 1)
                            .arg(hs.at(i).worker).arg(hs.at(i).index)
                            .arg(QString::fromLatin1(hs.at(i).reason))
                            .arg(ms(hs.at(i).until() - hs.at(i).grant), 0, 'f', 1)
                            .arg(hs.at(j).worker).arg(hs.at(j).index)
                            .arg(ms(hs.at(j).grant - hs.at(i).grant), 0, 'f', 1));
        }
    }
}

void checkSignals(const QList<Pause> &pauses, const QList<Holding> &hs, CheckResult *r)
{
    const qint64 tolerance = qint64(LateToleranceMs * NsPerMs);
    for (const Holding &h : hs) {
        if (h.lastWrite > h.until()) {
            ++r->lateWrites;
            note(r, QStringLiteral("late write: worker %1 holding %2 wrote %3 ms after its holding ended")
                            .arg(h.worker).arg(h.index).arg(ms(h.lastWrite - h.until()), 0, 'f', 2));
        }
        // The worker must learn that the lock is gone by its deadline: a signal, or its own
        // release before it. A worker that was stopped over the deadline is judged from its
        // resumption on: the library cannot talk to a process that does not run.
        const qint64 learned = h.signal ? h.signal : h.end;
        if (learned <= h.deadline)
            continue;
        const Stopped stopped = stoppedWithin(pauses, h.worker, h.deadline - tolerance, learned);
        const qint64 resumed = stopped.resumeNs;
        const qint64 reference = std::max(h.deadline, resumed);
        const qint64 late = learned - reference;
        if (resumed && late <= tolerance) {
            ++(stopped.paused ? r->excusedLate : r->starvedLate);
            continue;
        }
        r->worstLatenessMs = std::max(r->worstLatenessMs, ms(late));
        if (late > tolerance) {
            ++r->lateSignals;
            note(r, QStringLiteral("late signal: worker %1 holding %2 learned '%3' %4 ms after %5")
                            .arg(h.worker).arg(h.index).arg(QString::fromLatin1(h.reason))
                            .arg(ms(late), 0, 'f', 2)
                            .arg(resumed ? QStringLiteral("its resumption") : QStringLiteral("the deadline")));
        }
    }
}

// Merged holding intervals, sorted.
QList<std::pair<qint64, qint64>> heldSpans(const QList<Holding> &hs)
{
    QList<std::pair<qint64, qint64>> spans;
    for (const Holding &h : hs) {
        if (!spans.isEmpty() && h.grant <= spans.last().second)
            spans.last().second = std::max(spans.last().second, h.until());
        else
            spans.append({ h.grant, h.until() });
    }
    return spans;
}

// The longest time in [from, to] not covered by spans; *first gets the initial gap (from
// -> first span covering or starting after from).
qint64 longestGap(const QList<std::pair<qint64, qint64>> &spans, qint64 from, qint64 to, qint64 *first)
{
    qint64 cursor = from;
    qint64 worst = 0;
    *first = -1;
    for (const auto &s : spans) {
        if (s.second <= cursor)
            continue;
        if (s.first >= to)
            break;
        const qint64 gap = std::max<qint64>(0, s.first - cursor);
        if (*first < 0)
            *first = gap;
        worst = std::max(worst, gap);
        cursor = std::max(cursor, s.second);
    }
    if (cursor < to) {
        worst = std::max(worst, to - cursor);
        if (*first < 0)
            *first = to - cursor;
    }
    return worst;
}

void checkLiveness(const RunMeta &meta, const QList<Holding> &hs, CheckResult *r)
{
    const auto spans = heldSpans(hs);
    // Judge every stretch after a heal (or, without healing faults, the whole steady run)
    // until the next fault starts or the workers stop, each against its own bound.
    struct Window
    {
        qint64 from, to;
        double bound;
    };
    QList<Window> windows;
    QList<qint64> starts;
    for (const Fault &f : meta.faults)
        starts << f.startNs;
    std::sort(starts.begin(), starts.end());
    const auto nextStart = [&](qint64 t) {
        for (qint64 s : std::as_const(starts)) {
            if (s > t)
                return std::min(s, meta.stopNs);
        }
        return meta.stopNs;
    };
    bool permanent = meta.faults.isEmpty();
    for (const Fault &f : meta.faults) {
        if (f.healNs > 0)
            windows.append({ std::max(f.healNs, meta.steadyNs), nextStart(f.healNs), meta.recoveryBoundMs(f) });
        else
            permanent = true;
    }
    if (permanent)
        windows.append({ meta.steadyNs, nextStart(meta.steadyNs), meta.recoveryBoundMs() });
    for (const Window &w : std::as_const(windows)) {
        if (w.to <= w.from)
            continue;
        qint64 first = 0;
        const qint64 worst = longestGap(spans, w.from, w.to, &first);
        r->worstGapMs = std::max(r->worstGapMs, ms(worst));
        r->worstRecoveryMs = std::max(r->worstRecoveryMs, ms(first));
        if (ms(worst) > w.bound) {
            ++r->livenessFailures;
            note(r, QStringLiteral("liveness: nobody held the lock for %1 ms (bound %2 ms) in the %3 ms after +%4 ms")
                            .arg(ms(worst), 0, 'f', 1).arg(w.bound, 0, 'f', 0)
                            .arg(ms(w.to - w.from), 0, 'f', 0)
                            .arg(ms(w.from - meta.startNs), 0, 'f', 0));
        }
    }
}

// Scheduled jobs: every worker-N.log.runs line is one started run (occurrence ms, start ns,
// worker); an occurrence started twice is a violation.
bool checkOccurrences(const QDir &dir, const RunMeta &meta, CheckResult *r, QString *error)
{
    QHash<qint64, QStringList> starts;
    for (int w = 0; w < meta.workers; ++w) {
        QFile file(dir.filePath(QStringLiteral("worker-%1.log.runs").arg(w)));
        if (!file.exists())
            continue;
        if (!file.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("cannot read %1").arg(file.fileName());
            return false;
        }
        while (!file.atEnd()) {
            const QList<QByteArray> f = file.readLine().trimmed().split('\t');
            if (f.size() != 3) {
                *error = QStringLiteral("%1: malformed line").arg(file.fileName());
                return false;
            }
            starts[f.at(0).toLongLong()] << QStringLiteral("worker %1 at +%2 ms")
                                                    .arg(QString::fromLatin1(f.at(2)))
                                                    .arg(ms(f.at(1).toLongLong() - meta.startNs), 0, 'f', 0);
        }
    }
    r->occurrences = int(starts.size());
    for (auto it = starts.cbegin(); it != starts.cend(); ++it) {
        if (it.value().size() > 1) {
            ++r->occurrencesRunTwice;
            note(r, QStringLiteral("occurrence %1 started %2 times: %3")
                            .arg(it.key()).arg(it.value().size()).arg(it.value().join(QStringLiteral(", "))));
        }
    }
    return true;
}

// One line of a worker's refusals file (see worker.cpp): an acquisition that failed for good,
// or a server list the manager refused.
struct Refusal
{
    int worker = 0;
    qint64 at = 0;
    QByteArray source; // acquire | setServers
    QByteArray error;  // the DistributedLock::Error key, e.g. InvalidArgument
    QString message;
};

bool loadRefusals(const QString &path, int worker, QList<Refusal> *out)
{
    return loadTabbed(path, 4, [&](const QList<QByteArray> &f) {
        out->append({ worker, f.at(0).toLongLong(), f.at(1), f.at(2), QString::fromUtf8(f.at(3)) });
    });
}

// Holdings held while a server was killed or came back (a fault's start or heal inside the
// holding) must not end lost/expired where the run says locks survive its faults.
void checkLocksKept(const RunMeta &meta, const QList<Holding> &hs, CheckResult *r)
{
    int otherLost = 0;
    for (const Holding &h : hs) {
        bool across = false;
        for (const Fault &f : meta.faults) {
            const auto inside = [&](qint64 t) { return t > 0 && t > h.grant && t < h.end; };
            if (inside(f.startNs) || inside(f.healNs)) {
                across = true;
                break;
            }
        }
        const bool ended = h.reason == "lost" || h.reason == "expired";
        if (!across) {
            otherLost += ended ? 1 : 0;
            continue;
        }
        ++r->heldAcrossFaults;
        if (!ended)
            continue;
        ++r->lostAcrossFaults;
        if (meta.locksSurviveFaults)
            note(r, QStringLiteral("lock not kept: worker %1 holding %2 (granted +%3 ms, %4 extensions) ended '%5' "
                                   "at +%6 ms, held across a restart")
                            .arg(h.worker).arg(h.index).arg(ms(h.grant - meta.startNs), 0, 'f', 0).arg(h.extensions)
                            .arg(QString::fromLatin1(h.reason)).arg(ms(h.end - meta.startNs), 0, 'f', 0));
    }
    if (meta.locksSurviveFaults) {
        r->lockLossFailures = r->lostAcrossFaults;
        if (otherLost)
            note(r, QStringLiteral("(not counted: %1 holdings that spanned no restart ended lost/expired)").arg(otherLost));
    }
}

// Workers configured with an alias must be refused (the message naming both URLs) and never
// hold; every other worker's configuration is valid, so any refusal there is a failure.
void checkRefusals(const RunMeta &meta, const QList<Holding> &hs, const QList<Refusal> &refusals, CheckResult *r)
{
    QList<int> aliased;
    for (const AliasWorker &a : meta.aliases) {
        aliased << a.worker;
        ++r->aliasWorkers;
        int held = 0;
        for (const Holding &h : hs)
            held += h.worker == a.worker ? 1 : 0;
        r->aliasHoldings += held;
        if (held)
            note(r, QStringLiteral("alias: worker %1 (given %2) held the lock %3 times")
                            .arg(a.worker).arg(a.urls.join(QStringLiteral(" and "))).arg(held));
        bool named = false;
        int any = 0;
        QString sample;
        for (const Refusal &f : refusals) {
            if (f.worker != a.worker)
                continue;
            ++any;
            if (sample.isEmpty())
                sample = QString::fromLatin1(f.error) + QStringLiteral(": ") + f.message;
            bool all = f.error == "InvalidArgument" && !a.urls.isEmpty();
            for (const QString &u : a.urls)
                all = all && f.message.contains(u);
            named = named || all;
        }
        if (named)
            ++r->aliasRefused;
        else
            note(r, QStringLiteral("alias: worker %1 (given %2) was never refused with InvalidArgument naming both "
                                   "(%3 refusals%4)")
                            .arg(a.worker).arg(a.urls.join(QStringLiteral(" and "))).arg(any)
                            .arg(sample.isEmpty() ? QString() : QStringLiteral(", first: ") + sample));
    }
    for (const Refusal &f : refusals) {
        if (aliased.contains(f.worker))
            continue;
        if (r->unexpectedRefusals++ == 0)
            note(r, QStringLiteral("refusal: worker %1 (valid configuration) at +%2 ms: %3 %4: %5")
                            .arg(f.worker).arg(ms(f.at - meta.startNs), 0, 'f', 0)
                            .arg(QString::fromLatin1(f.source), QString::fromLatin1(f.error), f.message));
    }
}

} // namespace

double RunMeta::recoveryBoundMs() const
{
    // Leftover keys live up to one TTL after the fault heals; then the next attempt comes
    // within one retry delay (plus jitter) and takes at most one server timeout.
    return double(ttl + retryDelay + retryJitter + serverTimeout + RecoverySlackMs);
}

double RunMeta::recoveryBoundMs(const Fault &healed) const
{
    if (healed.leftKeys)
        return recoveryBoundMs();
    // No key to wait for: the next attempt comes within one retry delay (plus jitter). It
    // may be one more: the connection allows one reconnect on demand per 50 ms, and
    // contenders that reconnected at different moments can split the vote once. Each
    // attempt takes at most one server timeout.
    return double(2 * (retryDelay + retryJitter) + serverTimeout + RecoverySlackMs);
}

bool RunMeta::save(const QString &path) const
{
    QJsonObject o;
    o.insert(QStringLiteral("scenario"), scenario);
    o.insert(QStringLiteral("negative"), negative);
    o.insert(QStringLiteral("seed"), QString::number(seed));
    o.insert(QStringLiteral("servers"), servers);
    o.insert(QStringLiteral("workers"), workers);
    o.insert(QStringLiteral("ttl"), ttl);
    o.insert(QStringLiteral("autoExtend"), autoExtend);
    o.insert(QStringLiteral("retryDelay"), retryDelay);
    o.insert(QStringLiteral("retryJitter"), retryJitter);
    o.insert(QStringLiteral("serverTimeout"), serverTimeout);
    o.insert(QStringLiteral("startNs"), nsValue(startNs));
    o.insert(QStringLiteral("steadyNs"), nsValue(steadyNs));
    o.insert(QStringLiteral("stopNs"), nsValue(stopNs));
    QJsonArray faultList;
    for (const Fault &f : faults) {
        faultList.append(QJsonObject{ { QStringLiteral("kind"), f.kind },
                                      { QStringLiteral("startNs"), nsValue(f.startNs) },
                                      { QStringLiteral("healNs"), nsValue(f.healNs) },
                                      { QStringLiteral("detail"), f.detail },
                                      { QStringLiteral("leftKeys"), f.leftKeys } });
    }
    o.insert(QStringLiteral("faults"), faultList);
    QJsonArray pauseList;
    for (const Pause &p : pauses) {
        pauseList.append(QJsonObject{ { QStringLiteral("worker"), p.worker },
                                      { QStringLiteral("stopNs"), nsValue(p.stopNs) },
                                      { QStringLiteral("resumeNs"), nsValue(p.resumeNs) } });
    }
    o.insert(QStringLiteral("pauses"), pauseList);
    o.insert(QStringLiteral("locksSurviveFaults"), locksSurviveFaults);
    QJsonArray aliasList;
    for (const AliasWorker &a : aliases) {
        aliasList.append(QJsonObject{ { QStringLiteral("worker"), a.worker },
                                      { QStringLiteral("urls"), QJsonArray::fromStringList(a.urls) } });
    }
    o.insert(QStringLiteral("aliases"), aliasList);
    o.insert(QStringLiteral("scheduledJob"), scheduledJob);
    o.insert(QStringLiteral("setupErrors"), QJsonArray::fromStringList(setupErrors));
    QFile file(path);
    return file.open(QIODevice::WriteOnly | QIODevice::Truncate)
            && file.write(QJsonDocument(o).toJson()) > 0;
}

bool RunMeta::load(const QString &path, QString *error)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read %1: %2").arg(path, file.errorString());
        return false;
    }
    QJsonParseError parseError;
    const QJsonObject o = QJsonDocument::fromJson(file.readAll(), &parseError).object();
    if (parseError.error != QJsonParseError::NoError) {
        *error = QStringLiteral("%1: %2").arg(path, parseError.errorString());
        return false;
    }
    scenario = o.value(QStringLiteral("scenario")).toString();
    negative = o.value(QStringLiteral("negative")).toBool();
    seed = o.value(QStringLiteral("seed")).toString().toULongLong();
    servers = o.value(QStringLiteral("servers")).toInt();
    workers = o.value(QStringLiteral("workers")).toInt();
    ttl = o.value(QStringLiteral("ttl")).toInt();
    autoExtend = o.value(QStringLiteral("autoExtend")).toBool();
    retryDelay = o.value(QStringLiteral("retryDelay")).toInt();
    retryJitter = o.value(QStringLiteral("retryJitter")).toInt();
    serverTimeout = o.value(QStringLiteral("serverTimeout")).toInt();
    startNs = nsOf(o.value(QStringLiteral("startNs")));
    steadyNs = nsOf(o.value(QStringLiteral("steadyNs")));
    stopNs = nsOf(o.value(QStringLiteral("stopNs")));
    faults.clear();
    const QJsonArray faultList = o.value(QStringLiteral("faults")).toArray();
    for (const QJsonValue &v : faultList) {
        const QJsonObject f = v.toObject();
        faults.append({ f.value(QStringLiteral("kind")).toString(), nsOf(f.value(QStringLiteral("startNs"))),
                        nsOf(f.value(QStringLiteral("healNs"))), f.value(QStringLiteral("detail")).toString(),
                        f.value(QStringLiteral("leftKeys")).toBool(true) });
    }
    pauses.clear();
    const QJsonArray pauseList = o.value(QStringLiteral("pauses")).toArray();
    for (const QJsonValue &v : pauseList) {
        const QJsonObject p = v.toObject();
        pauses.append({ p.value(QStringLiteral("worker")).toInt(), nsOf(p.value(QStringLiteral("stopNs"))),
                        nsOf(p.value(QStringLiteral("resumeNs"))) });
    }
    locksSurviveFaults = o.value(QStringLiteral("locksSurviveFaults")).toBool();
    aliases.clear();
    const QJsonArray aliasList = o.value(QStringLiteral("aliases")).toArray();
    for (const QJsonValue &v : aliasList) {
        const QJsonObject a = v.toObject();
        QStringList urls;
        const QJsonArray urlList = a.value(QStringLiteral("urls")).toArray();
        for (const QJsonValue &u : urlList)
            urls << u.toString();
        aliases.append({ a.value(QStringLiteral("worker")).toInt(), urls });
    }
    scheduledJob = o.value(QStringLiteral("scheduledJob")).toBool();
    setupErrors.clear();
    const QJsonArray errors = o.value(QStringLiteral("setupErrors")).toArray();
    for (const QJsonValue &v : errors)
        setupErrors << v.toString();
    return true;
}

bool checkRun(const QString &dirPath, RunMeta *meta, CheckResult *r, QString *error)
{
    const QDir dir(dirPath);
    if (!meta->load(dir.filePath(QStringLiteral("meta.json")), error))
        return false;
    *r = CheckResult();

    QList<Holding> hs;
    const QStringList logs = dir.entryList({ QStringLiteral("worker-*.log") }, QDir::Files, QDir::Name);
    for (const QString &name : logs) {
        QFile file(dir.filePath(name));
        if (!file.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("cannot read %1").arg(file.fileName());
            return false;
        }
        int lineNo = 0;
        while (!file.atEnd()) {
            const QByteArray line = file.readLine();
            ++lineNo;
            Holding h;
            if (!parseLine(line, &h)) {
                *error = QStringLiteral("%1:%2: malformed record").arg(name).arg(lineNo);
                return false;
            }
            hs.append(h);
            r->increments += h.increments;
        }
    }
    std::sort(hs.begin(), hs.end(), [](const Holding &a, const Holding &b) { return a.grant < b.grant; });
    r->holdings = int(hs.size());

    QFile counter(dir.filePath(QStringLiteral("counter")));
    if (!counter.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read the counter file");
        return false;
    }
    r->counter = counter.readAll().trimmed().toLongLong();
    r->lostUpdates = r->increments - r->counter;
    if (r->lostUpdates != 0)
        note(r, QStringLiteral("lost updates: %1 increments were completed, the counter says %2")
                        .arg(r->increments).arg(r->counter));

    QList<Pause> pauses = meta->pauses;
    QList<Refusal> refusals;
    for (int w = 0; w < meta->workers; ++w) {
        if (!loadStalls(dir.filePath(QStringLiteral("worker-%1.log.stalls").arg(w)), w, &pauses)) {
            *error = QStringLiteral("cannot read the stalls of worker %1").arg(w);
            return false;
        }
        if (!loadRefusals(dir.filePath(QStringLiteral("worker-%1.log.refusals").arg(w)), w, &refusals)) {
            *error = QStringLiteral("cannot read the refusals of worker %1").arg(w);
            return false;
        }
    }
    checkOverlaps(hs, r);
    checkSignals(pauses, hs, r);
    if (meta->scheduledJob) {
        if (!checkOccurrences(dir, *meta, r, error))
            return false;
    } else {
        checkLiveness(*meta, hs, r);
    }
    checkLocksKept(*meta, hs, r);
    checkRefusals(*meta, hs, refusals, r);
    return true;
}

} // namespace QRedlockSafety
