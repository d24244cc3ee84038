<?php
/**
 * Plugin Name: Comment Moderation Service
 * Description: Checks comments with a self-hosted comment-moderation service: the Akismet plugin's calls go to it, its "review" verdict holds a comment for moderation, and its moderators' decisions come back by signed webhook. Works without the Akismet plugin too.
 * Version: 1.0.0
 * Requires at least: 5.5
 * Requires PHP: 7.4
 * License: GPL-2.0-or-later
 * License URI: https://www.gnu.org/licenses/gpl-2.0.html
 *
 * With the Akismet plugin active, every request it makes to its API host
 * (rest.akismet.com) is sent to the service instead (the `pre_http_request`
 * filter), with the site key in place of an Akismet key: the site keeps
 * Akismet's UI, its "Check for Spam", its Spam / Not Spam buttons (which
 * reach the service as labels) and its comment history. Without it, the
 * plugin checks each new comment with the service's native API itself and
 * reports the blog's own Spam / Not Spam the same way.
 *
 * The service answers a comment it is unsure about with "review": the
 * Akismet protocol says `true` (spam) and the header `X-Moderation-Verdict:
 * review` says the rest; this plugin holds such a comment (pending) instead
 * of spamming it. When a moderator decides it, the service POSTs a signed
 * webhook to /wp-json/comment-moderation/v1/webhook, and the comment is
 * approved or spammed (an undo holds it again). Each comment is found by the
 * check's guid (`X-akismet-guid`), kept in the comment meta
 * `moderation_guid` (and `moderation_id` for the native API's id).
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'COMMENT_MODERATION_TEST' ) ) {
	exit;
}

final class Comment_Moderation {
	const OPTION = 'comment_moderation_service';
	const REST_NAMESPACE = 'comment-moderation/v1';
	/** The Akismet plugin's API host, and its key-prefixed form of old. */
	const AKISMET_HOST = 'rest.akismet.com';
	/** What the Akismet plugin is given as its key: 12 characters, which it
	 * checks before sending; the site key goes in its place on the way out. */
	const AKISMET_PLACEHOLDER_KEY = 'moderation00';
	/** Refuse a webhook signed longer ago than this (seconds): replays. */
	const TOLERANCE = 300;

	/** What the service said of the comment being posted in this request. */
	private static $last = null;
	/** Set while a webhook applies a moderator's decision: not a blog's correction. */
	private static $applying = false;

	/**
	 * The webhook signature check: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." . body>`,
	 * made with the site's webhook secret no more than `$tolerance` seconds
	 * from `$now` (either way).
	 */
	public static function verify( $secret, $body, $header, $now, $tolerance = self::TOLERANCE ) {
		if ( ! is_string( $secret ) || '' === $secret || ! is_string( $header ) || ! is_string( $body ) ) {
			return false;
		}
		$parts = array();
		foreach ( explode( ',', $header ) as $part ) {
			$pair = explode( '=', trim( $part ), 2 );
			if ( 2 === count( $pair ) ) {
				$parts[ $pair[0] ] = $pair[1];
			}
		}
		if ( ! isset( $parts['t'], $parts['v1'] ) || ! ctype_digit( $parts['t'] ) || strlen( $parts['t'] ) > 12 ) {
			return false;
		}
		if ( abs( $now - (int) $parts['t'] ) > $tolerance ) {
			return false;
		}
		$expected = hash_hmac( 'sha256', $parts['t'] . '.' . $body, $secret );
		return hash_equals( $expected, strtolower( $parts['v1'] ) );
	}

	/** An event id's place in its stream (`<site>:<ms>-<seq>`), to ignore stale repeats. */
	public static function event_order( $event ) {
		if ( ! is_string( $event ) || ! preg_match( '/:(\d+)-(\d+)$/', $event, $m ) ) {
			return null;
		}
		return array( (int) $m[1], (int) $m[2] );
	}

	public static function init() {
		add_filter( 'pre_http_request', array( __CLASS__, 'redirect_akismet' ), 10, 3 );
		add_filter( 'akismet_get_api_key', array( __CLASS__, 'akismet_key' ), 99 );
		add_action( 'akismet_comment_check_response', array( __CLASS__, 'akismet_answered' ) );
		add_filter( 'preprocess_comment', array( __CLASS__, 'check_natively' ), 2 );
		add_filter( 'pre_comment_approved', array( __CLASS__, 'approved' ), 99, 2 );
		add_action( 'comment_post', array( __CLASS__, 'remember' ), 10, 1 );
		add_action( 'transition_comment_status', array( __CLASS__, 'report' ), 10, 3 );
		add_action( 'rest_api_init', array( __CLASS__, 'routes' ) );
		add_action( 'admin_menu', array( __CLASS__, 'menu' ) );
		add_action( 'admin_init', array( __CLASS__, 'register_setting' ) );
	}

	public static function settings() {
		$saved = get_option( self::OPTION, array() );
		return array_merge(
			array( 'url' => '', 'key' => '', 'secret' => '' ),
			is_array( $saved ) ? $saved : array()
		);
	}

	private static function configured() {
		$s = self::settings();
		return '' !== $s['url'] && '' !== $s['key'];
	}

	private static function akismet_active() {
		return class_exists( 'Akismet' );
	}

	/* ---- The Akismet plugin's calls, sent to the service ---- */

	public static function akismet_key( $key ) {
		return self::configured() ? self::AKISMET_PLACEHOLDER_KEY : $key;
	}

	private static function is_akismet_request( $url, $args ) {
		$host = strtolower( (string) wp_parse_url( $url, PHP_URL_HOST ) );
		if ( self::AKISMET_HOST === $host || substr( $host, -strlen( '.' . self::AKISMET_HOST ) ) === '.' . self::AKISMET_HOST ) {
			return true;
		}
		// Akismet's connectivity test calls its servers by IP, naming the host.
		$headers = isset( $args['headers'] ) && is_array( $args['headers'] ) ? $args['headers'] : array();
		foreach ( $headers as $name => $value ) {
			if ( 'host' === strtolower( $name ) && self::AKISMET_HOST === strtolower( (string) $value ) ) {
				return true;
			}
		}
		return false;
	}

	public static function redirect_akismet( $preempt, $args, $url ) {
		if ( false !== $preempt || ! self::configured() || ! self::is_akismet_request( $url, $args ) ) {
			return $preempt;
		}
		$s = self::settings();
		$path = (string) wp_parse_url( $url, PHP_URL_PATH );
		if ( self::$applying && preg_match( '#/submit-(spam|ham)$#', $path ) ) {
			// Our moderators' decision, applied here: not a correction of it.
			return self::answer( 'Thanks for making the web a better place.' );
		}
		if ( '/1.1/comment-check' === $path && self::waiting( $args ) ) {
			// "Check for Spam" on a comment our moderators have yet to decide:
			// asking again would queue it twice, and Akismet would spam it on
			// "true". It stays held ("false" leaves a pending comment pending).
			return self::answer( 'false', array( 'x-moderation-verdict' => 'review' ) );
		}
		if ( '/1.1/test' === $path ) {
			// Akismet's connectivity test (its settings page): is the service up?
			$up = wp_remote_get( untrailingslashit( $s['url'] ) . '/healthz', array( 'timeout' => 5 ) );
			return self::answer( 200 === (int) wp_remote_retrieve_response_code( $up ) ? 'connected' : 'unreachable' );
		}
		if ( '/1.1/get-subscription' === $path ) {
			// No Akismet account here: the settings page shows the service instead.
			$key = Akismet::http_post( Akismet::build_query( array( 'blog' => get_option( 'home' ) ) ), 'verify-key' );
			return self::answer(
				wp_json_encode(
					array(
						'account_name'      => 'Comment moderation service at ' . wp_parse_url( $s['url'], PHP_URL_HOST ),
						'account_type'      => 'self-hosted',
						'status'            => 'valid' === $key[1] ? 'active' : 'missing',
						'next_billing_date' => null,
						'limit_reached'     => false,
					)
				)
			);
		}
		$query = (string) wp_parse_url( $url, PHP_URL_QUERY );
		$target = untrailingslashit( $s['url'] ) . $path . ( '' === $query ? '' : '?' . self::with_key( $query, $s['key'] ) );
		if ( isset( $args['body'] ) && is_string( $args['body'] ) ) {
			$args['body'] = self::with_key( $args['body'], $s['key'] );
		} elseif ( isset( $args['body'] ) && is_array( $args['body'] ) ) {
			unset( $args['body']['key'] );
			$args['body']['api_key'] = $s['key'];
		}
		// Akismet names its host in a header: the service's own must go out.
		foreach ( array_keys( isset( $args['headers'] ) && is_array( $args['headers'] ) ? $args['headers'] : array() ) as $name ) {
			if ( 'host' === strtolower( $name ) ) {
				unset( $args['headers'][ $name ] );
			}
		}
		return wp_remote_request( $target, $args );
	}

	/** A response made here, in the shape wp_remote_request() returns. */
	private static function answer( $body, $headers = array() ) {
		return array(
			'headers'  => $headers,
			'body'     => $body,
			'response' => array( 'code' => 200, 'message' => 'OK' ),
			'cookies'  => array(),
			'filename' => null,
		);
	}

	/** Is this Akismet's re-check of a comment held for our moderators? */
	private static function waiting( $args ) {
		if ( ! isset( $args['body'] ) || ! is_string( $args['body'] ) ) {
			return false;
		}
		parse_str( $args['body'], $form );
		if ( empty( $form['recheck_reason'] ) || empty( $form['comment_ID'] ) ) {
			return false;
		}
		return 'review' === get_comment_meta( (int) $form['comment_ID'], 'moderation_verdict', true );
	}

	/** A form-encoded string with the site key as its only key. */
	private static function with_key( $form, $key ) {
		$kept = array();
		foreach ( explode( '&', $form ) as $pair ) {
			$name = urldecode( explode( '=', $pair, 2 )[0] );
			if ( '' !== $pair && 'key' !== $name && 'api_key' !== $name ) {
				$kept[] = $pair;
			}
		}
		$kept[] = 'api_key=' . rawurlencode( $key );
		return implode( '&', $kept );
	}

	/** Akismet's comment-check answer: [headers, body]. */
	public static function akismet_answered( $response ) {
		if ( ! self::configured() || ! is_array( $response ) || ! isset( $response[0] ) ) {
			return;
		}
		$headers = $response[0];
		$verdict = isset( $headers['x-moderation-verdict'] ) ? (string) $headers['x-moderation-verdict'] : '';
		if ( '' === $verdict ) {
			$verdict = 'true' === $response[1] ? 'spam' : ( 'false' === $response[1] ? 'ham' : '' );
		}
		self::$last = array(
			'verdict' => $verdict,
			'guid'    => isset( $headers['x-akismet-guid'] ) ? (string) $headers['x-akismet-guid'] : '',
			'id'      => '',
			'score'   => isset( $headers['x-moderation-score'] ) ? (string) $headers['x-moderation-score'] : '',
		);
	}

	/* ---- Without the Akismet plugin: the native API ---- */

	public static function check_natively( $commentdata ) {
		if ( self::akismet_active() || ! self::configured() ) {
			return $commentdata;
		}
		$id = wp_generate_uuid4();
		$comment = array(
			'id'           => $id,
			'content'      => (string) $commentdata['comment_content'],
			'author'       => (string) ( $commentdata['comment_author'] ?? '' ),
			'author_email' => (string) ( $commentdata['comment_author_email'] ?? '' ),
			'author_url'   => (string) ( $commentdata['comment_author_url'] ?? '' ),
			'user_ip'      => (string) ( $_SERVER['REMOTE_ADDR'] ?? '' ),
			'user_agent'   => (string) ( $_SERVER['HTTP_USER_AGENT'] ?? '' ),
			'referrer'     => (string) ( $_SERVER['HTTP_REFERER'] ?? '' ),
			'permalink'    => (string) get_permalink( $commentdata['comment_post_ID'] ),
			'comment_type' => '' === ( $commentdata['comment_type'] ?? '' ) ? 'comment' : $commentdata['comment_type'],
			'lang'         => get_locale(),
		);
		$answer = self::call( 'POST', '/api/v1/comments/check', $comment );
		// No answer is no verdict: the comment waits for the blog's own
		// moderators ("unchecked": ours never saw it). Never ham by default.
		self::$last = array(
			'verdict' => is_array( $answer ) && isset( $answer['verdict'] ) ? (string) $answer['verdict'] : 'unchecked',
			'guid'    => '',
			'id'      => is_array( $answer ) && isset( $answer['id'] ) ? (string) $answer['id'] : '',
			'score'   => is_array( $answer ) && isset( $answer['score'] ) ? (string) $answer['score'] : '',
		);
		return $commentdata;
	}

	private static function call( $method, $path, $body ) {
		$s = self::settings();
		$response = wp_remote_request(
			untrailingslashit( $s['url'] ) . $path,
			array(
				'method'  => $method,
				'timeout' => 5,
				'headers' => array(
					'Authorization' => 'Bearer ' . $s['key'],
					'Content-Type'  => 'application/json',
				),
				'body'    => wp_json_encode( $body ),
			)
		);
		if ( is_wp_error( $response ) || 200 !== (int) wp_remote_retrieve_response_code( $response ) ) {
			return null;
		}
		return json_decode( wp_remote_retrieve_body( $response ), true );
	}

	/* ---- The verdict, the comment's status, and what is kept ---- */

	public static function approved( $approved, $commentdata = array() ) {
		if ( null === self::$last || 'spam' === $approved && ! self::akismet_active() && 'spam' !== self::$last['verdict'] ) {
			return $approved; // e.g. WordPress's own disallowed list
		}
		switch ( self::$last['verdict'] ) {
			case 'review':
			case 'unchecked':
				return 'trash' === $approved ? $approved : 0;
			case 'spam':
				return self::akismet_active() ? $approved : 'spam';
			default:
				return $approved;
		}
	}

	public static function remember( $comment_id ) {
		if ( null === self::$last ) {
			return;
		}
		$last = self::$last;
		self::$last = null;
		foreach ( array( 'guid', 'id', 'verdict', 'score' ) as $field ) {
			if ( '' !== $last[ $field ] ) {
				update_comment_meta( $comment_id, 'moderation_' . $field, $last[ $field ] );
			}
		}
		// The Akismet plugin sends what it stored of the comment with Spam /
		// Not Spam: with the guid in it, the service matches the exact check.
		$submitted = get_comment_meta( $comment_id, 'akismet_as_submitted', true );
		if ( is_array( $submitted ) && '' !== $last['guid'] ) {
			$submitted['guid'] = $last['guid'];
			update_comment_meta( $comment_id, 'akismet_as_submitted', $submitted );
		}
	}

	/** Native mode: the blog's own Spam / Not Spam becomes a label (Akismet's plugin does its own). */
	public static function report( $new_status, $old_status, $comment ) {
		if ( self::$applying || self::akismet_active() || ! self::configured() || $new_status === $old_status ) {
			return;
		}
		if ( ! current_user_can( 'moderate_comments' ) ) {
			return;
		}
		$id = get_comment_meta( $comment->comment_ID, 'moderation_id', true );
		if ( '' === $id ) {
			return;
		}
		if ( 'spam' === $new_status ) {
			$label = 'spam';
		} elseif ( 'spam' === $old_status && 'approved' === $new_status ) {
			$label = 'ham';
		} else {
			return;
		}
		self::call( 'POST', '/api/v1/comments/' . rawurlencode( $id ) . '/feedback', array( 'label' => $label ) );
	}

	/* ---- Webhooks: a moderator's decision comes back ---- */

	public static function routes() {
		register_rest_route(
			self::REST_NAMESPACE,
			'/webhook',
			array(
				'methods'             => 'POST',
				'callback'            => array( __CLASS__, 'webhook' ),
				'permission_callback' => '__return_true', // the signature is the authentication
			)
		);
	}

	public static function webhook( $request ) {
		$s = self::settings();
		$body = $request->get_body();
		if ( ! self::verify( $s['secret'], $body, (string) $request->get_header( 'x_moderation_signature' ), time() ) ) {
			return new WP_Error( 'moderation_bad_signature', 'Bad or stale signature.', array( 'status' => 401 ) );
		}
		$event = json_decode( $body, true );
		$status = array( 'ham' => 'approve', 'spam' => 'spam', 'review' => 'hold' );
		if ( ! is_array( $event ) || ! isset( $event['verdict'], $status[ $event['verdict'] ] ) ) {
			return new WP_REST_Response( array( 'applied' => false, 'reason' => 'nothing to apply' ), 200 );
		}
		$comment_id = self::find( $event );
		if ( null === $comment_id ) {
			// Acknowledged all the same: a comment deleted here will not come back.
			return new WP_REST_Response( array( 'applied' => false, 'reason' => 'unknown comment' ), 200 );
		}
		$order = self::event_order( $event['event'] ?? '' );
		$seen = self::event_order( get_comment_meta( $comment_id, 'moderation_event', true ) );
		if ( null !== $order && null !== $seen && $order <= $seen ) {
			return new WP_REST_Response( array( 'applied' => false, 'reason' => 'already applied' ), 200 );
		}
		$target = $status[ $event['verdict'] ];
		$current = wp_get_comment_status( $comment_id );
		$same = array( 'approve' => 'approved', 'hold' => 'unapproved', 'spam' => 'spam' );
		self::$applying = true;
		$ok = $current === $same[ $target ] || true === wp_set_comment_status( $comment_id, $target );
		self::$applying = false;
		if ( ! $ok ) {
			return new WP_Error( 'moderation_not_applied', 'Could not change the comment.', array( 'status' => 500 ) );
		}
		update_comment_meta( $comment_id, 'moderation_event', (string) ( $event['event'] ?? '' ) );
		update_comment_meta( $comment_id, 'moderation_verdict', $event['verdict'] );
		if ( ! empty( $event['decided_by'] ) ) {
			update_comment_meta( $comment_id, 'moderation_decided_by', (string) $event['decided_by'] );
		}
		return new WP_REST_Response( array( 'applied' => true, 'comment' => $comment_id, 'status' => $target ), 200 );
	}

	private static function find( $event ) {
		foreach ( array( 'guid' => 'moderation_guid', 'id' => 'moderation_id' ) as $field => $meta ) {
			if ( empty( $event[ $field ] ) || ! is_string( $event[ $field ] ) ) {
				continue;
			}
			$ids = get_comments(
				array(
					'meta_key'   => $meta,
					'meta_value' => $event[ $field ],
					'status'     => 'any',
					'fields'     => 'ids',
					'number'     => 1,
				)
			);
			if ( $ids ) {
				return (int) $ids[0];
			}
		}
		return null;
	}

	/* ---- Settings: Settings > Comment Moderation ---- */

	public static function register_setting() {
		register_setting( 'comment_moderation', self::OPTION, array( 'sanitize_callback' => array( __CLASS__, 'sanitize' ) ) );
	}

	public static function sanitize( $input ) {
		$old = self::settings();
		$input = is_array( $input ) ? $input : array();
		$secret = trim( (string) ( $input['secret'] ?? '' ) );
		return array(
			'url'    => esc_url_raw( trim( (string) ( $input['url'] ?? '' ) ) ),
			'key'    => trim( (string) ( $input['key'] ?? '' ) ) ?: $old['key'],
			'secret' => '' === $secret ? $old['secret'] : $secret,
		);
	}

	public static function menu() {
		add_options_page( 'Comment Moderation', 'Comment Moderation', 'manage_options', 'comment-moderation', array( __CLASS__, 'page' ) );
	}

	public static function page() {
		$s = self::settings();
		$name = self::OPTION;
		?>
		<div class="wrap">
			<h1>Comment Moderation</h1>
			<p><?php echo self::akismet_active() ? 'The Akismet plugin is active: its calls go to the service below.' : 'The Akismet plugin is not active: comments are checked with the service&#8217;s native API.'; ?></p>
			<form method="post" action="options.php">
				<?php settings_fields( 'comment_moderation' ); ?>
				<table class="form-table" role="presentation">
					<tr><th scope="row"><label for="cm-url">Service URL</label></th>
						<td><input id="cm-url" class="regular-text" type="url" name="<?php echo esc_attr( $name ); ?>[url]" value="<?php echo esc_attr( $s['url'] ); ?>" placeholder="https://moderation.example.com"></td></tr>
					<tr><th scope="row"><label for="cm-key">Site key</label></th>
						<td><input id="cm-key" class="regular-text" type="password" name="<?php echo esc_attr( $name ); ?>[key]" value="" placeholder="<?php echo '' === $s['key'] ? 'mk_...' : 'saved (leave empty to keep)'; ?>" autocomplete="off">
						<p class="description"><code>flask --app wsgi sites create <?php echo esc_html( wp_parse_url( home_url(), PHP_URL_HOST ) ); ?></code></p></td></tr>
					<tr><th scope="row"><label for="cm-secret">Webhook secret</label></th>
						<td><input id="cm-secret" class="regular-text" type="password" name="<?php echo esc_attr( $name ); ?>[secret]" value="" placeholder="<?php echo '' === $s['secret'] ? 'whsec_...' : 'saved (leave empty to keep)'; ?>" autocomplete="off">
						<p class="description"><code>flask --app wsgi sites update <?php echo esc_html( wp_parse_url( home_url(), PHP_URL_HOST ) ); ?> --webhook <?php echo esc_html( rest_url( self::REST_NAMESPACE . '/webhook' ) ); ?></code></p></td></tr>
				</table>
				<?php submit_button(); ?>
			</form>
		</div>
		<?php
	}
}

if ( function_exists( 'add_action' ) ) {
	Comment_Moderation::init();
}
