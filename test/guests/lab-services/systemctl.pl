#!/usr/bin/perl
# pvepatch lab: a STAND-IN for systemd's systemctl in lab guests, which run no systemd. It is not
# systemd: it knows only the units under /usr/local/lib/lab-units/ (written by
# test/guests/lab-services.ts) and only these verbs, with systemd 252's output shapes and exit codes:
#   start|stop|restart <unit>...                 0, or 5 for an unknown unit
#   enable|disable <unit>...                     links in /etc/systemd/system/multi-user.target.wants
#   is-active|is-enabled|is-failed <unit>...     prints the state; 0 only for active/enabled/failed
#   list-units [--failed] [--all] [--plain] [--no-legend] [--no-pager] [--full]
# A unit runs its argv (the X-Lab-Argv= lines of its file) detached, under a supervisor process that
# records how it ended in /run/lab-units/<unit>.result: it is active while the process lives, failed
# when it ended with a non-zero exit or a signal that was not ours, inactive when stopped or exit 0.
# The unit's stdout and stderr go to /run/lab-units/<unit>.log (there is no journal).
# /run is emptied at every guest start; /usr/local/lib/lab-units/boot then starts the enabled units.
use strict;
use warnings;
use POSIX qw(setsid _exit);

my $UNITS = '/usr/local/lib/lab-units';
my $WANTS = '/etc/systemd/system/multi-user.target.wants';
my $STATE = '/run/lab-units';
my $quiet = 0;

sub slurp {
    my ($path) = @_;
    open(my $fh, '<', $path) or return undef;
    local $/;
    my $text = <$fh>;
    close $fh;
    return $text;
}

sub spit {
    my ($path, $text) = @_;
    open(my $fh, '>', "$path.tmp") or die "systemctl (lab): cannot write $path: $!\n";
    print $fh $text;
    close $fh or die "systemctl (lab): cannot write $path: $!\n";
    rename("$path.tmp", $path) or die "systemctl (lab): cannot rename $path: $!\n";
}

sub unit_name {
    my ($arg) = @_;
    my $name = $arg;
    $name =~ s/\.service\z//;
    die "Invalid unit name \"$arg\" escaped as \"$arg\".\n" unless $name =~ /\A[A-Za-z0-9:_.\@-]{1,200}\z/;
    return $name;
}

sub read_unit {
    my ($name) = @_;
    my $text = slurp("$UNITS/$name.service");
    return undef unless defined $text;
    my %unit = (description => "$name.service", argv => []);
    for my $line (split /\n/, $text) {
        if ($line =~ /\ADescription=(.*)\z/) { $unit{description} = $1 }
        elsif ($line =~ /\AX-Lab-Argv=(.*)\z/) { push @{ $unit{argv} }, $1 }
    }
    return @{ $unit{argv} } ? \%unit : undef;
}

# "<state> <starttime>" of a pid from /proc/<pid>/stat, or () when it is gone
sub proc_stat {
    my ($pid) = @_;
    my $stat = slurp("/proc/$pid/stat");
    return () unless defined $stat;
    $stat =~ s/\A.*\) //s;
    my @f = split / /, $stat;
    return ($f[0], $f[19]);
}

sub main_alive {
    my ($name) = @_;
    my $main = slurp("$STATE/$name.main");
    return 0 unless defined $main;
    my ($pid, $start) = split ' ', $main;
    my ($st, $now) = proc_stat($pid);
    return defined $now && $st ne 'Z' && $now eq $start;
}

sub state_of {
    my ($name) = @_;
    return 'inactive' unless -e "$STATE/$name.main";
    for (1 .. 40) {
        my $result = slurp("$STATE/$name.result");
        return $result =~ /\A(?:exit 0|stopped)\n/ ? 'inactive' : 'failed' if defined $result;
        return 'active' if main_alive($name);
        select(undef, undef, undef, 0.05); # the process just ended: its supervisor is writing the result
    }
    return 'failed'; # the supervisor itself was killed
}

sub is_enabled { -l "$WANTS/$_[0].service" }

sub start_unit {
    my ($name, $unit) = @_;
    return if state_of($name) eq 'active';
    mkdir $STATE;
    unlink map { "$STATE/$name.$_" } qw(result main stopping);
    pipe(my $r, my $w) or die "systemctl (lab): pipe: $!\n";
    my $sup = fork() // die "systemctl (lab): fork: $!\n";
    if ($sup == 0) {
        close $r;
        setsid();
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>>', "$STATE/$name.log");
        open(STDERR, '>&', \*STDOUT);
        my $child = fork() // _exit(1);
        if ($child == 0) {
            close $w;
            setpgrp(0, 0);
            my @argv = @{ $unit->{argv} };
            { no warnings 'exec'; exec { $argv[0] } @argv; }
            print STDERR "$name.service: unable to execute $argv[0]: $!\n";
            _exit(203); # systemd's EXIT_EXEC
        }
        my (undef, $start) = proc_stat($child);
        spit("$STATE/$name.main", "$child $start\n");
        print $w "started\n";
        close $w;
        waitpid($child, 0);
        my $status = $?;
        my $how = -e "$STATE/$name.stopping" ? 'stopped' : ($status & 127) ? 'signal ' . ($status & 127) : 'exit ' . ($status >> 8);
        spit("$STATE/$name.result", "$how\n");
        _exit(0);
    }
    close $w;
    my $ack = <$r>; # the supervisor recorded the main pid; it lives on under the guest's pid 1
    close $r;
}

sub stop_unit {
    my ($name) = @_;
    return unless main_alive($name);
    my ($pid) = split ' ', slurp("$STATE/$name.main");
    spit("$STATE/$name.stopping", '');
    for my $sig ('TERM', 'KILL') {
        kill $sig, -$pid;
        for (1 .. 100) {
            return if -e "$STATE/$name.result";
            select(undef, undef, undef, 0.05);
        }
    }
    die "Failed to stop $name.service: its process $pid did not end.\n";
}

sub need_unit {
    my ($verb, $name) = @_;
    my $unit = read_unit($name);
    return $unit if $unit;
    my $how = $verb eq 'start' || $verb eq 'restart' ? 'not found' : 'not loaded';
    print STDERR "Failed to $verb $name.service: Unit $name.service $how.\n";
    exit 5;
}

sub cmd_state {
    my ($verb, @names) = @_;
    my $hit = 0;
    for my $name (@names) {
        my $state = state_of($name);
        $hit = 1 if ($verb eq 'is-active' && $state eq 'active') || ($verb eq 'is-failed' && $state eq 'failed');
        print "$state\n" unless $quiet;
    }
    exit($hit ? 0 : $verb eq 'is-active' ? 3 : 1);
}

sub cmd_is_enabled {
    my (@names) = @_;
    my $hit = 0;
    for my $name (@names) {
        if (!read_unit($name)) {
            print STDERR "Failed to get unit file state for $name.service: No such file or directory\n";
            exit 1;
        }
        my $state = is_enabled($name) ? 'enabled' : 'disabled';
        $hit = 1 if $state eq 'enabled';
        print "$state\n" unless $quiet;
    }
    exit($hit ? 0 : 1);
}

sub cmd_enable {
    my ($verb, @names) = @_;
    for my $name (@names) {
        need_unit($verb, $name);
        my ($link, $target) = ("$WANTS/$name.service", "$UNITS/$name.service");
        if ($verb eq 'enable' && !-l $link) {
            system('mkdir', '-p', $WANTS) == 0 or die "systemctl (lab): cannot create $WANTS\n";
            symlink($target, $link) or die "systemctl (lab): cannot link $link: $!\n";
            print STDERR "Created symlink $link \xe2\x86\x92 $target.\n";
        } elsif ($verb eq 'disable' && -l $link) {
            unlink($link) or die "systemctl (lab): cannot remove $link: $!\n";
            print STDERR "Removed \"$link\".\n";
        }
    }
    exit 0;
}

sub cmd_list_units {
    my (%opt) = @_;
    my @rows;
    opendir(my $dh, $UNITS) or exit 0;
    for my $file (sort readdir $dh) {
        next unless $file =~ /\A(.+)\.service\z/;
        my $name = $1;
        my $unit = read_unit($name) or next;
        my $state = state_of($name);
        next if $opt{failed} && $state ne 'failed';
        next if !$opt{all} && $state eq 'inactive';
        my $sub = $state eq 'active' ? 'running' : $state eq 'failed' ? 'failed' : 'dead';
        push @rows, ["$name.service", 'loaded', $state, $sub, $unit->{description}];
    }
    closedir $dh;
    my @head = ('UNIT', 'LOAD', 'ACTIVE', 'SUB', 'DESCRIPTION');
    my @width = (0) x 4;
    for my $row ($opt{legend} ? (\@head, @rows) : @rows) {
        for my $i (0 .. 3) { $width[$i] = length $row->[$i] if length $row->[$i] > $width[$i] }
    }
    for my $row ($opt{legend} ? (\@head, @rows) : @rows) {
        printf "%-*s %-*s %-*s %-*s %s\n", $width[0], $row->[0], $width[1], $row->[1], $width[2], $row->[2],
            $width[3], $row->[3], $row->[4];
    }
    printf "\n%d loaded units listed.\n", scalar @rows if $opt{legend};
    exit 0;
}

my (@args, %opt, $ended);
$opt{legend} = 1;
for my $arg (@ARGV) {
    if ($ended) { push @args, $arg }
    elsif ($arg eq '--') { $ended = 1 }
    elsif ($arg eq '--failed' || $arg eq '--state=failed') { $opt{failed} = 1 }
    elsif ($arg eq '--all' || $arg eq '-a') { $opt{all} = 1 }
    elsif ($arg eq '--no-legend') { $opt{legend} = 0 }
    elsif ($arg eq '--quiet' || $arg eq '-q') { $quiet = 1 }
    elsif ($arg =~ /\A--(?:plain|no-pager|full|type=service|system)\z/) { }
    elsif ($arg =~ /\A-/) { print STDERR "systemctl: unrecognized option '$arg'\n"; exit 1 }
    else { push @args, $arg }
}
my $verb = shift(@args) // 'list-units';
if ($verb eq 'list-units') {
    cmd_list_units(%opt);
}
my %known = map { $_ => 1 } qw(start stop restart enable disable is-active is-enabled is-failed);
if (!$known{$verb}) {
    print STDERR "Unknown command verb '$verb'.\n";
    exit 1;
}
if (!@args) {
    print STDERR "Too few arguments.\n";
    exit 1;
}
my @names = map { unit_name($_) } @args;
cmd_state($verb, @names) if $verb eq 'is-active' || $verb eq 'is-failed';
cmd_is_enabled(@names) if $verb eq 'is-enabled';
cmd_enable($verb, @names) if $verb eq 'enable' || $verb eq 'disable';
for my $name (@names) {
    my $unit = need_unit($verb, $name);
    stop_unit($name) if $verb eq 'stop' || $verb eq 'restart';
    start_unit($name, $unit) if $verb eq 'start' || $verb eq 'restart';
}
exit 0;
