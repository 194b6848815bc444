#!/usr/bin/perl
# pvepatch lab: a STAND-IN for Proxmox Backup Server's proxmox-backup-manager (not the real tool).
# It answers only what pvepatch asks a PBS guest, in the real tool's output formats
# (proxmox-backup src/bin/proxmox-backup-manager.rs, proxmox-router's text table):
#   versions [--verbose]                         text only: a border-less table without header
#   task list [--all] [--limit N] --output-format json
# Data comes from files the tests write (test/guests/lab-pbs.ts):
#   /var/lib/lab-pbs/versions                    "<package>\t<version>\t<extra info>" lines; line 2 is
#                                                proxmox-backup-server (the only row without --verbose)
#   /var/lib/lab-pbs/running-tasks.jsonl         one TaskListItem as compact JSON per line
#   /var/lib/lab-pbs/finished-tasks.jsonl        the same for finished tasks, newest first
# Like the real tool, `task list` asks the API daemon: it fails when the proxmox-backup unit is not
# active (the lab's systemctl stand-in decides that).
use strict;
use warnings;

my $DATA = '/var/lib/lab-pbs';

sub fail {
    my ($msg) = @_;
    print STDERR "Error: $msg\n";
    exit 255;
}

sub lines_of {
    my ($path) = @_;
    open(my $fh, '<', $path) or return ();
    my @lines = grep { $_ ne '' } map { chomp; $_ } <$fh>;
    close $fh;
    return @lines;
}

sub options {
    my ($allowed, @args) = @_;
    my %opt;
    while (@args) {
        my $arg = shift @args;
        fail("unexpected argument '$arg'") unless $arg =~ /\A--?([a-z-]+)(?:=(.*))?\z/ && exists $allowed->{$1};
        my ($name, $value) = ($1, $2);
        if ($allowed->{$name} eq 'flag') {
            $value //= (@args && $args[0] =~ /\A(?:1|0|true|false|yes|no|on|off)\z/i) ? shift @args : 1;
            $opt{$name} = $value =~ /\A(?:1|true|yes|on)\z/i ? 1 : 0;
        } else {
            $value //= shift @args;
            fail("parameter verification failed - '$name': missing value") unless defined $value;
            $opt{$name} = $value;
        }
    }
    return %opt;
}

sub cmd_versions {
    my %opt = options({ verbose => 'flag', 'output-format' => 'value' }, @_);
    my $format = $opt{'output-format'} // 'text';
    fail("lab stand-in: --output-format $format is not simulated") unless $format eq 'text';
    my @rows;
    for my $line (lines_of("$DATA/versions")) {
        my @fields = split /\t/, $line, 3;
        push @rows, [ map { $_ // '' } @fields[0 .. 2] ];
    }
    fail('lab stand-in: no /var/lib/lab-pbs/versions') unless @rows >= 2;
    @rows = ($rows[1]) unless $opt{verbose};
    my @width = (0, 0, 0);
    for my $row (@rows) {
        for my $i (0 .. 2) { $width[$i] = length $row->[$i] if length $row->[$i] > $width[$i] }
    }
    printf "%-*s %-*s %-*s\n", $width[0], $_->[0], $width[1], $_->[1], $width[2], $_->[2] for @rows;
    exit 0;
}

sub cmd_task_list {
    my %opt = options({ all => 'flag', limit => 'value', 'output-format' => 'value' }, @_);
    my $limit = $opt{limit} // 50;
    fail("parameter verification failed - 'limit': value does not look like a valid integer") unless $limit =~ /\A\d{1,9}\z/;
    fail("parameter verification failed - 'limit': value must have a minimum value of 1 (got $limit)") if $limit < 1;
    fail("parameter verification failed - 'limit': value must have a maximum value of 1000 (got $limit)") if $limit > 1000;
    my $format = $opt{'output-format'} // 'text';
    fail("lab stand-in: --output-format $format is not simulated (use json)") unless $format eq 'json';
    system('/usr/local/bin/systemctl', 'is-active', '--quiet', 'proxmox-backup') == 0
        or fail('error trying to connect: tcp connect error: Connection refused (os error 111)');
    my @tasks = lines_of("$DATA/running-tasks.jsonl");
    push @tasks, lines_of("$DATA/finished-tasks.jsonl") if $opt{all};
    splice(@tasks, $limit) if @tasks > $limit;
    print '[', join(',', @tasks), "]\n";
    exit 0;
}

my $cmd = shift(@ARGV) // '';
cmd_versions(@ARGV) if $cmd eq 'versions';
if ($cmd eq 'task') {
    my $sub = shift(@ARGV) // '';
    cmd_task_list(@ARGV) if $sub eq 'list';
    fail("lab stand-in: 'task $sub' is not simulated");
}
print STDERR "no such command '$cmd'\n";
exit 255;
