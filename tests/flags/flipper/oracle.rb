# The Ruby side of the conformance tests: Debian's ruby-flipper (0.25) evaluating
# and writing flags in Redis.
#
# Debian packages Flipper's core but not its flipper-redis gem, so the adapter
# below implements Flipper's adapter contract over ruby-redis with the key layout
# our README documents (Redis layout). Everything else - typecasting gate values, the gates,
# groups, the CRC32 percentage arithmetic, Feature#enable/#disable - is Flipper's.
#
# Protocol: one JSON request per line on stdin, one JSON answer per line on stdout.
require 'json'
require 'set'
require 'redis'
require 'flipper'

class RedisLayoutAdapter
  include Flipper::Adapter

  attr_reader :name

  def initialize(client, prefix)
    @client = client
    @prefix = prefix
    @name = :redis_layout
  end

  def features
    @client.smembers(key('flipper_features')).to_set
  end

  def add(feature)
    @client.sadd(key('flipper_features'), feature.key)
    true
  end

  def remove(feature)
    @client.multi do |tx|
      tx.srem(key('flipper_features'), feature.key)
      tx.del(key(feature.key))
    end
    true
  end

  def clear(feature)
    @client.del(key(feature.key))
    true
  end

  def get(feature)
    doc = @client.hgetall(key(feature.key))
    fields = doc.keys
    result = {}
    feature.gates.each do |gate|
      result[gate.key] =
        case gate.data_type
        when :boolean, :integer then doc[gate.key.to_s]
        when :set
          fields.grep(/^#{Regexp.escape(gate.key.to_s)}\//).map { |f| f.split('/', 2).last }.to_set
        end
    end
    result
  end

  def get_multi(features)
    features.each_with_object({}) { |f, h| h[f.key] = get(f) }
  end

  def enable(feature, gate, thing)
    case gate.data_type
    when :boolean, :integer then @client.hset(key(feature.key), gate.key.to_s, thing.value.to_s)
    when :set then @client.hset(key(feature.key), "#{gate.key}/#{thing.value}", 1)
    end
    true
  end

  def disable(feature, gate, thing)
    case gate.data_type
    when :boolean then @client.del(key(feature.key))
    when :integer then @client.hset(key(feature.key), gate.key.to_s, thing.value.to_s)
    when :set then @client.hdel(key(feature.key), "#{gate.key}/#{thing.value}")
    end
    true
  end

  private

  def key(name)
    "#{@prefix}#{name}"
  end
end

Actor = Struct.new(:flipper_id)

# The same predicates are registered on the Python side of the tests.
Flipper.register(:admins) { |actor| actor.flipper_id.start_with?('User:admin') }
Flipper.register(:projects) { |actor| actor.flipper_id.start_with?('Project:') }
Flipper.register(:sevens) { |actor| actor.flipper_id.end_with?('7') }

# Groups whose members a test names (register_group): the proc matches exactly those actors.
$members = {}

def register_group(name, members)
  unless $members.key?(name)
    raise "group #{name} is registered with a predicate of its own" if Flipper.group_exists?(name)

    Flipper.register(name.to_sym) { |actor| $members.fetch(name).include?(actor.flipper_id) }
  end
  $members[name] = members.to_set
end

redis = Redis.new(url: ENV.fetch('REDIS_URL'))
$stdout.sync = true

$stdin.each_line do |line|
  request = JSON.parse(line)
  flipper = Flipper.new(RedisLayoutAdapter.new(redis, request.fetch('prefix')))
  answer =
    case request.fetch('op')
    when 'evaluate'
      request.fetch('pairs').map do |flag, actor|
        feature = flipper[flag]
        actor.nil? ? feature.enabled? : feature.enabled?(Actor.new(actor))
      end
    when 'register_group'
      register_group(request.fetch('group'), request.fetch('members'))
      true
    when 'apply'
      feature = flipper[request.fetch('flag')]
      args = request.fetch('args')
      case request.fetch('method')
      when 'enable' then feature.enable
      when 'disable' then feature.disable
      when 'enable_actor' then feature.enable_actor(Actor.new(args[0]))
      when 'disable_actor' then feature.disable_actor(Actor.new(args[0]))
      when 'enable_group' then feature.enable_group(args[0].to_sym)
      when 'disable_group' then feature.disable_group(args[0].to_sym)
      when 'enable_percentage_of_actors' then feature.enable_percentage_of_actors(args[0])
      when 'enable_percentage_of_time' then feature.enable_percentage_of_time(args[0])
      when 'remove' then feature.remove
      else raise "unknown method #{request['method']}"
      end
      true
    else
      raise "unknown op #{request['op']}"
    end
  puts JSON.generate({ 'ok' => answer })
end
